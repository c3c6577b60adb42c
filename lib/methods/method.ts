// What a method is: a named preset over SslConfig. Adding one = one file + one registry line.
import type { DeepPartial, EmaParts, SslConfig } from '../config';

export interface MethodOptions {
  /** EMA wiring (design §2): 'none' | 'full' | 'projector' | list of parts, or the whole ema config. */
  ema?: EmaParts | DeepPartial<SslConfig['ema']>;
}

export interface Method<O extends MethodOptions = MethodOptions> {
  readonly name: string;
  /** One line for --help and the README. */
  readonly summary: string;
  /** The preset for these options; user overrides are merged on top by configFor(). */
  preset(options?: O): DeepPartial<SslConfig>;
}

/** Normalises the `ema` option into an ema config fragment. */
export function emaOption(ema: MethodOptions['ema'], fallback: DeepPartial<SslConfig['ema']>): DeepPartial<SslConfig['ema']> {
  if (ema === undefined) return fallback;
  if (typeof ema === 'string' || Array.isArray(ema)) return { ...fallback, parts: ema as EmaParts };
  return { ...fallback, ...(ema as DeepPartial<SslConfig['ema']>) };
}

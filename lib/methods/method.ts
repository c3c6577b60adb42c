// What a method is: a named preset over SslConfig. Adding one = one file + one registry line.
import type { OptionSpec } from '../cli/command';
import type { DeepPartial, EmaParts, SslConfig } from '../config';

export interface MethodOptions {
  /** EMA wiring (design §2): 'none' | 'full' | 'projector' | list of parts, or the whole ema config. */
  ema?: EmaParts | DeepPartial<SslConfig['ema']>;
}

export interface Method<O extends MethodOptions = MethodOptions> {
  readonly name: string;
  /** One line for --help and the README. */
  readonly summary: string;
  /** Flags for this method's own options (solo-learn's add_model_specific_args). */
  readonly cliOptions?: readonly MethodCliOption[];
  /** The preset for these options; user overrides are merged on top by configFor(). */
  preset(options?: O): DeepPartial<SslConfig>;
}

/** Normalises the `ema` option into an ema config fragment. */
export function emaOption(ema: MethodOptions['ema'], fallback: DeepPartial<SslConfig['ema']>): DeepPartial<SslConfig['ema']> {
  if (ema === undefined) return fallback;
  if (typeof ema === 'string' || Array.isArray(ema)) return { ...fallback, parts: ema as EmaParts };
  return { ...fallback, ...(ema as DeepPartial<SslConfig['ema']>) };
}

/** A CLI flag of a method; `key` is the MethodOptions field its value goes to. */
export interface MethodCliOption extends OptionSpec {
  key: string;
}

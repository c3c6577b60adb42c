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

/**
 * The `ema` section of a preset: the user's `ema` option over the method's default parts and
 * momentum schedule (only what differs from the package defaults).
 */
export function emaOption(ema: MethodOptions['ema'], parts?: EmaParts, schedule: DeepPartial<SslConfig['ema']> = {}): DeepPartial<SslConfig> {
  const base: DeepPartial<SslConfig['ema']> = { ...(parts !== undefined ? { parts } : {}), ...schedule };
  if (ema === undefined) return Object.keys(base).length ? { ema: base } : {};
  if (typeof ema === 'string' || Array.isArray(ema)) return { ema: { ...base, parts: ema as EmaParts } };
  return { ema: { ...base, ...(ema as DeepPartial<SslConfig['ema']>) } };
}

/** A CLI flag of a method; `key` is the MethodOptions field its value goes to. */
export interface MethodCliOption extends OptionSpec {
  key: string;
}

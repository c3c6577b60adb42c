// The one place that lists methods (solo-learn's METHODS dict).
import { DeepPartial, mergeConfig, DEFAULT_SSL_CONFIG, SslConfig } from '../config';
import { byol } from './byol';
import { Method, MethodOptions } from './method';
import { moco, MocoOptions } from './moco';
import { simclr } from './simclr';

export const METHODS = {
  simclr,
  moco,
  byol,
} as const;

export type MethodName = keyof typeof METHODS;
export type AnyMethodOptions = MethodOptions & MocoOptions;

export function getMethod(name: string): Method<AnyMethodOptions> {
  const m = (METHODS as Record<string, Method<AnyMethodOptions>>)[name];
  if (!m) throw new TypeError(`unknown method '${name}'; available: ${Object.keys(METHODS).join(', ')}`);
  return m;
}

/** Defaults ← method preset ← user overrides: the full config of a run. */
export function configFor(name: string, options?: AnyMethodOptions, overrides?: DeepPartial<SslConfig>): SslConfig {
  const preset = getMethod(name).preset(options);
  return mergeConfig(mergeConfig(DEFAULT_SSL_CONFIG, preset), overrides);
}

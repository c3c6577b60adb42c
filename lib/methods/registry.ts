// The one place that lists methods (solo-learn's METHODS dict): a method is a preset here plus an
// objective in native/core/objectives/ plus its line in objectiveRegistry().
import { DeepPartial, mergeConfig, resolveSslConfig, SslConfig } from '../config';
import { byol } from './byol';
import { dino, DinoOptions } from './dino';
import { Method, MethodOptions } from './method';
import { moco, MocoOptions } from './moco';
import { simclr } from './simclr';
import { simsiam } from './simsiam';

export const METHODS = {
  simclr,
  moco,
  byol,
  simsiam,
  dino,
} as const;

export type MethodName = keyof typeof METHODS;
export type AnyMethodOptions = MethodOptions & MocoOptions & DinoOptions;

export function getMethod(name: string): Method<AnyMethodOptions> {
  const m = Object.prototype.hasOwnProperty.call(METHODS, name) ? (METHODS as Record<string, Method<AnyMethodOptions>>)[name] : undefined;
  if (!m) throw new TypeError(`unknown method '${name}'; available: ${Object.keys(METHODS).join(', ')}`);
  return m;
}

/** Defaults ← method preset ← user overrides: the full config of a run. */
export function configFor(name: string, options?: AnyMethodOptions, overrides?: DeepPartial<SslConfig>): SslConfig {
  const preset = getMethod(name).preset(options);
  return mergeConfig(resolveSslConfig(preset), overrides);
}

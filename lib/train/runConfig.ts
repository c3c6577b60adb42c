// The SslConfig of a run: defaults ← method preset ← data-derived fields ← user overrides, with
// the LR and momentum schedules spanning the run's steps.
import type { DeepPartial, EmaParts, SslConfig } from '../config';
import { asConfigError, ConfigError } from '../errors';
import { AnyMethodOptions, configFor, getMethod } from '../methods/registry';
import { SslModel } from '../model';

export interface RunConfigOptions {
  /** Method name from the registry. */
  method: string;
  /** EMA wiring passed to the method: 'none' | 'full' | 'projector' | a list of parts. */
  ema?: EmaParts;
  /** Further method options (each method declares its own, e.g. moco's variant and queueSize). */
  methodOptions?: AnyMethodOptions;
  /** Overrides of the SslConfig, merged last. backbone.inChannels and augment.outSize default to the data's. */
  model?: DeepPartial<SslConfig>;
  seed: number;
}

const isObj = (x: unknown): x is object => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The SslConfig of a run on images of `sampleShape` [C,H,W]; totalSteps = the run's steps. */
export function runConfig(options: RunConfigOptions, data: { sampleShape: [number, number, number] }, steps: number): SslConfig {
  checkMethod(options.method);
  const [c, h] = data.sampleShape;
  if (c !== 1 && c !== 3) throw new ConfigError(`images have ${c} channels; only 1 or 3 are supported`);
  const over = options.model ?? {};
  if (!isObj(over)) throw new ConfigError('model config overrides must be an object');
  if (over.backbone !== undefined && !isObj(over.backbone)) throw new ConfigError('config.backbone must be an object');
  if (over.augment !== undefined && !isObj(over.augment)) throw new ConfigError('config.augment must be an object');
  const merged: DeepPartial<SslConfig> = {
    ...over,
    backbone: { inChannels: c as 1 | 3, ...(over.backbone ?? {}) },
    augment: { outSize: h, ...(over.augment ?? {}) },
    seed: over.seed ?? options.seed,
    // The LR and momentum schedules must span the run whatever the overrides say.
    totalSteps: steps,
  };
  const methodOptions = { ...(options.methodOptions ?? {}), ...(options.ema !== undefined ? { ema: options.ema } : {}) };
  try {
    return configFor(options.method, methodOptions, merged);
  } catch (e) {
    throw asConfigError(e);
  }
}

/** A ConfigError naming the registered methods unless `name` is one. */
export function checkMethod(name: string): void {
  try {
    getMethod(name);
  } catch (e) {
    throw asConfigError(e);
  }
}

/** Builds the model, turning native config validation errors into ConfigErrors. */
export function createModel(config: SslConfig): SslModel {
  try {
    return SslModel.create(config);
  } catch (e) {
    throw asConfigError(e);
  }
}

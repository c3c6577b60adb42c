// SSL losses (design §3) on small tensors: value and gradient w.r.t. each embedding input,
// computed natively with autograd. For tests, fixtures and analysis; training computes its loss
// inside the native step. Arguments are checked here first so errors name them.
import { binding, NativeTensor } from './native';
import { Tensor } from './tensor';

export type LossName = 'ntXentPair' | 'momentumNtXent' | 'ntXent' | 'infoNce' | 'byolLoss';

/** Loss value, and the gradient w.r.t. each floating input in argument order. */
export interface LossResult {
  loss: number;
  grads: Tensor[];
}

export interface TemperatureOptions {
  /** Softmax temperature τ > 0 (default 0.2). */
  temperature?: number;
}

export interface NtXentOptions extends TemperatureOptions {
  /** [M] int64: row of each anchor's positive in `candidates`. */
  positiveIndex: Tensor;
  /** [M] int64: row of the anchor itself in `candidates` (excluded), -1 = none. Default: none. */
  selfIndex?: Tensor;
}

export interface InfoNceOptions extends TemperatureOptions {
  /** Negatives from outside the batch, e.g. NegativeKeyQueue.negatives(). */
  negatives?: { keys: Tensor; valid?: Tensor; sampleIndex?: Tensor };
  /** [N] int64 sample index of each query: negatives of the same sample are masked. */
  queryIndex?: Tensor;
  /** Use the other keys of the batch as negatives too (default false). */
  inBatchNegatives?: boolean;
}

function checkTensor(fn: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${fn}: ${name} must be a Tensor`);
}

function checkTemperature(fn: string, options: TemperatureOptions | undefined): number {
  const tau = options?.temperature === undefined ? 0.2 : options.temperature; // null is not 'default' (reliability #13)
  if (typeof tau !== 'number') throw new TypeError(`${fn}: temperature must be a number, got ${typeof tau}`);
  if (!Number.isFinite(tau) || tau <= 0) throw new RangeError(`${fn}: temperature must be a finite number > 0, got ${tau}`);
  return tau;
}

function run(name: LossName, inputs: (Tensor | undefined)[], options: { temperature?: number; inBatchNegatives?: boolean }): LossResult {
  const r = binding().lossValueAndGrad(
    name,
    inputs.map((t) => (t === undefined ? null : t.handle)),
    options,
  );
  return { loss: r.loss, grads: r.grads.filter((g): g is NativeTensor => g !== null).map((g) => new Tensor(g)) };
}

/** SimCLR NT-Xent over [a; b] (a_i, b_i positives). grads: [dA, dB]. */
export function ntXentPair(a: Tensor, b: Tensor, options?: TemperatureOptions): LossResult {
  checkTensor('ntXentPair', 'a', a);
  checkTensor('ntXentPair', 'b', b);
  return run('ntXentPair', [a, b], { temperature: checkTemperature('ntXentPair', options) });
}

/** NT-Xent of anchors against an explicit candidate set (e.g. gathered from all ranks). grads: [dAnchors, dCandidates]. */
export function ntXent(anchors: Tensor, candidates: Tensor, options: NtXentOptions): LossResult {
  checkTensor('ntXent', 'anchors', anchors);
  checkTensor('ntXent', 'candidates', candidates);
  checkTensor('ntXent', 'positiveIndex', options?.positiveIndex);
  if (options.selfIndex !== undefined) checkTensor('ntXent', 'selfIndex', options.selfIndex);
  return run('ntXent', [anchors, candidates, options.positiveIndex, options.selfIndex], {
    temperature: checkTemperature('ntXent', options),
  });
}

/** Momentum SimCLR: ½(NT-Xent[z2; k1] + NT-Xent[z1; k2]), keys detached. grads: [dz1, dz2, dk1 = 0, dk2 = 0]. */
export function momentumNtXent(z1: Tensor, z2: Tensor, k1: Tensor, k2: Tensor, options?: TemperatureOptions): LossResult {
  const names = ['z1', 'z2', 'k1', 'k2'];
  [z1, z2, k1, k2].forEach((t, i) => checkTensor('momentumNtXent', names[i], t));
  return run('momentumNtXent', [z1, z2, k1, k2], { temperature: checkTemperature('momentumNtXent', options) });
}

/** MoCo InfoNCE, positive at index 0. grads: [dq, dkPos] and dKeys when negatives are given (callers detach keys). */
export function infoNce(q: Tensor, kPos: Tensor, options: InfoNceOptions = {}): LossResult {
  checkTensor('infoNce', 'q', q);
  checkTensor('infoNce', 'kPos', kPos);
  const neg = options.negatives;
  if (neg !== undefined) {
    checkTensor('infoNce', 'negatives.keys', neg.keys);
    if (neg.valid !== undefined) checkTensor('infoNce', 'negatives.valid', neg.valid);
    if (neg.sampleIndex !== undefined) checkTensor('infoNce', 'negatives.sampleIndex', neg.sampleIndex);
  }
  if (options.queryIndex !== undefined) checkTensor('infoNce', 'queryIndex', options.queryIndex);
  const inBatch = options.inBatchNegatives ?? false;
  if (typeof inBatch !== 'boolean') throw new TypeError('infoNce: inBatchNegatives must be a boolean');
  if (neg === undefined && !inBatch) throw new TypeError('infoNce: no negatives: pass options.negatives and/or set inBatchNegatives');
  return run('infoNce', [q, kPos, neg?.keys, neg?.valid, neg?.sampleIndex, options.queryIndex], {
    temperature: checkTemperature('infoNce', options),
    inBatchNegatives: inBatch,
  });
}

/** BYOL / MoCo v3 regression: mean(2 − 2·cos(p, k)). grads: [dp, dk] (callers detach k). */
export function byolLoss(p: Tensor, k: Tensor): LossResult {
  checkTensor('byolLoss', 'p', p);
  checkTensor('byolLoss', 'k', k);
  return run('byolLoss', [p, k], {});
}

// SSL losses (design §3) on small tensors: value and gradient w.r.t. each embedding input,
// computed natively with autograd. For tests, fixtures and analysis; training computes its loss
// inside the native step. JS types are checked here; values, defaults and ranges natively.
import { binding, NativeLossName, NativeTensor } from './native';
import { Tensor } from './tensor';

export type LossName = NativeLossName;

/** Loss value, and the gradient w.r.t. each floating input in argument order. */
export interface LossResult {
  loss: number;
  grads: Tensor[];
}

export interface TemperatureOptions {
  /** Softmax temperature τ (default: the objective's, objectives()). */
  temperature?: number;
}

export interface NtXentOptions extends TemperatureOptions {
  /** [M] int64: row of each anchor's positive in `candidates`. */
  positiveIndex: Tensor;
  /** [M] int64: row of the anchor itself in `candidates` (excluded), -1 = none. Default: none. */
  selfIndex?: Tensor;
}

export interface InfoNceOptions extends TemperatureOptions {
  /** Negatives from outside the batch, e.g. NegativeQueue.negatives(). */
  negatives?: { keys: Tensor; valid?: Tensor; sampleIndex?: Tensor };
  /** [N] int64 sample index of each query: negatives of the same sample are masked. */
  queryIndex?: Tensor;
  /** Use the other keys of the batch as negatives too (default false). */
  inBatchNegatives?: boolean;
}

function checkTensor(fn: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${fn}: ${name} must be a Tensor`);
}

function checkNumber(fn: string, name: string, v: unknown): number | undefined {
  if (v !== undefined && typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${typeof v}`);
  return v;
}

function checkTemperature(fn: string, options: TemperatureOptions | undefined): number | undefined {
  return checkNumber(fn, 'temperature', options?.temperature);
}

function run(name: LossName, inputs: (Tensor | undefined)[], options: Record<string, number | boolean | undefined>): LossResult {
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
  const r = binding().lossValueAndGrad(
    name,
    inputs.map((t) => (t === undefined ? null : t.handle)),
    options as Record<string, number | boolean>,
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

/** SimSiam: D(p, z) = −mean cos(p, z). grads: [dp, dz] (callers detach z: the stop-gradient). */
export function negativeCosine(p: Tensor, z: Tensor): LossResult {
  checkTensor('negativeCosine', 'p', p);
  checkTensor('negativeCosine', 'z', z);
  return run('negativeCosine', [p, z], {});
}

export interface DinoLossOptions {
  /** τ_s (default: the dino objective's). */
  studentTemperature?: number;
  /** τ_t (default: the dino objective's final teacherTemperature). */
  teacherTemperature?: number;
}

/**
 * DINO: the centred, sharpened teacher distribution of each of the two global views against the
 * student distribution of every other view (2 global + up to 2 local here). `student` [N,K] per
 * view (global first), `teacher` the two global views' teacher logits, `center` [K].
 * grads: one per student view, then zeros for the teacher views and the centre (targets).
 */
export function dinoLoss(student: readonly Tensor[], teacher: readonly [Tensor, Tensor], center: Tensor, options: DinoLossOptions = {}): LossResult {
  if (!Array.isArray(student) || student.length < 2 || student.length > 4) throw new TypeError('dinoLoss: student must be an array of 2 to 4 Tensors');
  if (!Array.isArray(teacher) || teacher.length !== 2) throw new TypeError('dinoLoss: teacher must be an array of 2 Tensors');
  student.forEach((t, i) => checkTensor('dinoLoss', `student[${i}]`, t));
  teacher.forEach((t, i) => checkTensor('dinoLoss', `teacher[${i}]`, t));
  checkTensor('dinoLoss', 'center', center);
  return run('dinoLoss', [student[0], student[1], student[2], student[3], teacher[0], teacher[1], center], {
    studentTemperature: checkNumber('dinoLoss', 'studentTemperature', options.studentTemperature),
    teacherTemperature: checkNumber('dinoLoss', 'teacherTemperature', options.teacherTemperature),
  });
}

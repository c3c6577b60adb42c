// One fuzzing child: `count` seeded calls of the public API, each generated with what it must do
// (accept, reject, or either as long as the result is finite) and the words a rejection must name.
// Prints one JSON summary line; a crash or hang shows in the parent as a missing summary.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as m from '../../lib';
import { rng, TINY_CONFIG } from './common';

type Expect = 'accept' | 'reject' | 'either';
interface Case {
  family: string;
  /** The inputs, for the problem list. */
  desc?: string;
  expect: Expect;
  /** A rejection's message must contain one of these (the argument it is about). */
  names: string[];
  run: () => unknown;
  /** Extra check of an accepted result (finite values, unchanged state...); returns a problem or undefined. */
  check?: (value: unknown) => string | undefined;
}

const seed = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? 100);
const r = rng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

const HOSTILE = [-1, 0, 0.5, NaN, Infinity, -Infinity, 1e300, -1e300, 1e-300, 2 ** 53, 'x', '', null, true, [], {}, [1, 2]] as const;
const TEMPS = [0.05, 0.2, 1, 0, -1, NaN, Infinity, 1e-300, 1e-5, '0.2', null] as const;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-fuzz-'));

function finite(xs: ArrayLike<number | bigint>): boolean {
  for (let i = 0; i < xs.length; i++) if (typeof xs[i] === 'number' && !Number.isFinite(xs[i] as number)) return false;
  return true;
}

function randomArray(kind: string, n: number): unknown {
  switch (kind) {
    case 'f32': return new Float32Array(n).map(() => r() * 2 - 1);
    case 'f64': return new Float64Array(n).map(() => r() * 2 - 1);
    case 'i32': return new Int32Array(n).map(() => int(-5, 5));
    case 'u8': return new Uint8Array(n).map(() => int(0, 255));
    case 'i64': return BigInt64Array.from({ length: n }, () => BigInt(int(0, 9)));
    case 'sab': return new Float32Array(new SharedArrayBuffer(4 * n));
    case 'u16': return new Uint16Array(n);
    case 'array': return Array.from({ length: n }, () => 1);
    case 'string': return 'abc';
    default: return null;
  }
}

function tensorCase(async: boolean): Case {
  const kind = pick(['f32', 'f64', 'i32', 'u8', 'i64', 'sab', 'sab', 'u16', 'array', 'string', 'null']);
  const n = int(0, 24);
  const data = randomArray(kind, n);
  const okData = ['f32', 'f64', 'i32', 'u8', 'i64', 'sab'].includes(kind);
  let shape: unknown = [n];
  let okShape = true;
  const s = r();
  if (s < 0.3 && n > 0) {
    const d = [1, 2, 3, 4, 6].filter((x) => n % x === 0);
    const a = pick(d);
    shape = [a, n / a];
  } else if (s < 0.4) shape = undefined;
  else if (s < 0.75) {
    okShape = false;
    shape = pick([[n + 1], [-1], [NaN], [1.5], ['2'], [Infinity], [1e20, 1e20], 'shape', null, [n, 0, -2]]);
    if (Array.isArray(shape) && shape.length === 3 && n === 0) okShape = false;
  }
  return {
    family: async ? 'Tensor.fromAsync' : 'Tensor.from',
    expect: okData && okShape ? 'accept' : 'reject',
    names: ['data', 'shape'],
    run: async () => {
      const t = async ? await m.Tensor.fromAsync(data as never, shape as never) : m.Tensor.from(data as never, shape as never);
      const ok = t.shape.reduce((a, b) => a * b, 1) === n;
      t.dispose();
      return ok;
    },
    check: (ok) => (ok ? undefined : 'tensor has the wrong number of elements'),
  };
}

function lossCase(): Case {
  const n = pick([0, 2, 3, 4, 6]);
  const d = pick([0, 1, 3, 8]);
  const mismatch = r() < 0.2;
  const poison = r() < 0.15;
  const tau = pick(TEMPS);
  const a = new Float32Array(n * d).map(() => r() * 2 - 1);
  const b = new Float32Array(mismatch ? (n + 1) * d : n * d).map(() => r() * 2 - 1);
  if (poison && a.length > 0) a[0] = NaN;
  const okTau = typeof tau === 'number' && Number.isFinite(tau) && tau >= 1e-4;
  const valid = n >= 2 && d >= 1 && !mismatch && !poison && okTau;
  return {
    family: 'ntXentPair',
    desc: `n=${n} d=${d} mismatch=${mismatch} poison=${poison} tau=${String(tau)}`,
    expect: valid ? 'accept' : !okTau || poison || mismatch ? 'reject' : 'either',
    names: ['temperature', 'a', 'b', 'rows', 'shape'],
    run: () => {
      const ta = m.Tensor.from(a, [n, d]);
      const tb = m.Tensor.from(b, [mismatch ? n + 1 : n, d]);
      try {
        const res = m.ntXentPair(ta, tb, tau === null ? ({ temperature: null } as never) : { temperature: tau as number });
        const ok = Number.isFinite(res.loss) && res.grads.every((g) => finite(g.toTypedArray() as Float32Array));
        m.disposeAll(res.grads);
        return ok;
      } finally {
        m.disposeAll(ta, tb);
      }
    },
    check: (ok) => (ok ? undefined : 'accepted with a non-finite loss or gradient'),
  };
}

const LEAVES = [
  'objective.queueSize', 'objective.inBatchNegatives', 'ema.parts', 'backbone.zeroInitResidual', 'augment.scale', 'gradMonitor.enabled',
  'backbone.depth', 'backbone.width', 'backbone.inChannels', 'backbone.stem', 'projector.hiddenDim', 'projector.outDim',
  'predictor.hiddenDim', 'ema.base', 'ema.final', 'objective.temperature', 'optimizer.lr', 'optimizer.finalLr', 'optimizer.momentum',
  'optimizer.weightDecay', 'optimizer.warmupSteps', 'optimizer.name', 'augment.outSize', 'totalSteps', 'seed', 'device',
];

function configCase(): Case {
  const cfg = JSON.parse(JSON.stringify(TINY_CONFIG)) as Record<string, Record<string, unknown>>;
  if (r() < 0.3) Object.assign(cfg, { objective: { name: 'infonce', queueSize: 64 }, ema: { parts: 'full' } }); // MoCo-like base
  const s = r();
  if (s < 0.25) {
    // Structure: inherited objects and prototype keys at any level must never pass.
    const key = pick(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']);
    const level = pick(['', 'backbone', 'projector']);
    const target = level ? cfg[level] : cfg;
    const poisoned = JSON.parse(JSON.stringify(target).replace(/^\{/, `{"${key}": 1,`)) as Record<string, unknown>;
    const final = level ? { ...cfg, [level]: poisoned } : poisoned;
    const inherit = r() < 0.3;
    return {
      family: 'SslModel.create (structure)',
      expect: 'reject',
      names: inherit ? ['plain object'] : [key],
      run: () => m.SslModel.create((inherit ? Object.create(cfg) : final) as never).dispose(),
    };
  }
  const leaf = pick(LEAVES);
  const [a, b] = leaf.split('.');
  const value = pick(HOSTILE);
  if (b === undefined) (cfg as Record<string, unknown>)[a] = value;
  else cfg[a] = { ...(cfg[a] ?? {}), [b]: value };
  // No field takes these; other hostile values (0, -1, 1e300, []) are valid for some fields.
  const neverValid = (typeof value === 'number' && !Number.isFinite(value)) || value === null || value === 'x' || (typeof value === 'object' && !Array.isArray(value));
  return {
    family: 'SslModel.create (values)',
    desc: `${leaf} = ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`,
    expect: neverValid ? 'reject' : 'either',
    names: [b ?? a],
    run: () => m.SslModel.create(cfg as never).dispose(),
  };
}

let model: m.SslModel | undefined;
function tinyModel(): m.SslModel {
  model ??= m.SslModel.create(TINY_CONFIG as never);
  return model;
}

function stepCase(): Case {
  const b = pick([0, 1, 2, 4]);
  const c = pick([1, 1, 1, 3]);
  const h = pick([1, 2, 16]);
  const dims = r() < 0.85 ? 4 : 3;
  const u8 = r() < 0.85;
  const idxKind = pick(['none', 'none', 'valid', 'negative', 'short', 'float']);
  const shape = dims === 4 ? [b, c, h, h] : [b, h, h];
  const numel = shape.reduce((x, y) => x * y, 1);
  const valid = dims === 4 && u8 && c === 1 && b >= 2 && h >= 2 && (idxKind === 'none' || idxKind === 'valid');
  return {
    family: 'SslModel.step',
    expect: valid ? 'accept' : 'reject',
    names: ['batch', 'sampleIndex', 'images'],
    run: async () => {
      const mdl = tinyModel();
      const before = mdl.summary().step;
      const images = u8 ? m.Tensor.from(new Uint8Array(numel).map(() => int(0, 255)), shape) : m.Tensor.from(new Float32Array(numel), shape);
      const idx =
        idxKind === 'none' ? undefined
        : idxKind === 'float' ? m.Tensor.from(new Float32Array(b), [b])
        : m.Tensor.from(BigInt64Array.from({ length: idxKind === 'short' ? Math.max(0, b - 1) : b }, (_, i) => BigInt(idxKind === 'negative' ? -1 - i : i)));
      try {
        const res = await mdl.step(images, idx);
        return { ok: Number.isFinite(res.loss) && mdl.summary().step === before + 1 };
      } catch (e) {
        // Rejected steps must leave the model as it was.
        if (mdl.summary().step !== before) throw Object.assign(new Error('STATE CHANGED by a rejected step'), { stateChanged: true });
        throw e;
      } finally {
        m.disposeAll(images, idx);
      }
    },
    check: (v) => ((v as { ok: boolean }).ok ? undefined : 'accepted step with a non-finite loss or a wrong step count'),
  };
}

function fileCase(): Case {
  const mdl = tinyModel();
  const op = pick(['save', 'load', 'exportStateDict'] as const);
  const textFile = path.join(tmp, 'text.pt');
  fs.writeFileSync(textFile, 'not a checkpoint');
  const p = pick([
    path.join(tmp, `ok-${int(0, 3)}.pt`), `${tmp}/ck\0.pt`, '/dev/full', '/dev/null', tmp, '', '/nonexistent-dir/x.pt', textFile, 42, null, {},
  ] as unknown[]);
  const good = typeof p === 'string' && (p.startsWith(path.join(tmp, 'ok-')) || (op !== 'load' && p === textFile));
  return {
    family: `SslModel.${op}`,
    desc: JSON.stringify(p),
    expect: op !== 'load' && good ? 'accept' : op === 'load' && good ? 'either' : 'reject',
    names: ['path', 'ENOENT', 'corrupt', 'EACCES'],
    run: () => (op === 'save' ? mdl.save(p as string) : op === 'load' ? mdl.load(p as string) : mdl.exportStateDict(p as string)),
  };
}

function datasetCase(): Case {
  const n = pick([0, 1, 4]);
  const shapeKind = pick(['ok', 'ok', 'ok', 'short', 'negative', 'float', 'mismatch']);
  const shape = shapeKind === 'short' ? [n, 4] : shapeKind === 'negative' ? [n, 1, -4, 4] : shapeKind === 'float' ? [n, 1, 4.5, 4] : [n, 1, 4, 4];
  const pixels = new Uint8Array(shapeKind === 'mismatch' ? n * 16 + 3 : n * 16);
  const labelKind = pick(['ok', 'ok', 'negative', 'float', 'count', 'nan']);
  const labels = Array.from({ length: labelKind === 'count' ? n + 1 : n }, (_, i) => (labelKind === 'negative' ? -1 : labelKind === 'float' ? 0.5 : labelKind === 'nan' ? NaN : i % 2));
  const idx = pick([[0], [0, 1], [-1], [n], [1.5], [NaN], [], 'x', null] as unknown[]);
  const okData = shapeKind === 'ok' && (labelKind === 'ok' || (n === 0 && labelKind !== 'count'));
  const okIdx = Array.isArray(idx) && idx.every((i) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < n);
  return {
    family: 'fromArrays + batch',
    desc: `n=${n} shape=${shapeKind} labels=${labelKind} idx=${JSON.stringify(idx)}`,
    expect: okData && okIdx ? 'accept' : okData ? 'either' : 'reject',
    names: ['shape', 'labels', 'images', 'indices', 'index', 'pixels', 'elements'],
    run: () => {
      const ds = m.fromArrays({ images: pixels, shape, labels });
      try {
        const b = ds.batch(idx as number[]);
        const rows = b.images.shape[0];
        m.disposeAll(b);
        return rows === (idx as number[]).length;
      } finally {
        ds.dispose();
      }
    },
    check: (ok) => (ok ? undefined : 'batch has the wrong number of rows'),
  };
}

function unclear(msg: string, names: string[]): string | undefined {
  if (/Exception raised from|frame #\d/.test(msg)) return 'carries a C++ backtrace';
  if (/^(Invalid argument|Cannot read properties|undefined is not)/.test(msg)) return 'a raw runtime message';
  if (/Storage size calculation overflowed|can't allocate memory/.test(msg)) return 'a raw allocator message';
  if (!names.some((n) => msg.toLowerCase().includes(n.toLowerCase()))) return `names none of ${names.join('/')}`;
  return undefined;
}

async function main(): Promise<void> {
  const tally = { calls: 0, accepted: 0, rejected: 0, nonErrorThrows: 0, unclearMessages: 0, wrongAcceptances: 0, wrongRejections: 0 };
  const problems: string[] = [];
  const note = (kind: keyof typeof tally, c: Case, detail: string) => {
    tally[kind]++;
    if (problems.length < 25) problems.push(`${kind}: ${c.family}${c.desc ? ` (${c.desc})` : ''}: ${detail}`);
  };
  for (let i = 0; i < count; i++) {
    const s = r();
    const c = s < 0.25 ? tensorCase(false) : s < 0.33 ? tensorCase(true) : s < 0.55 ? lossCase() : s < 0.75 ? configCase() : s < 0.87 ? datasetCase() : s < 0.94 ? fileCase() : stepCase();
    tally.calls++;
    try {
      const value = await c.run();
      tally.accepted++;
      const bad = c.check?.(value);
      if (c.expect === 'reject') note('wrongAcceptances', c, 'accepted bad input');
      else if (bad) note('wrongAcceptances', c, bad);
    } catch (e) {
      tally.rejected++;
      if (!(e instanceof Error)) {
        note('nonErrorThrows', c, String(e));
        continue;
      }
      if ((e as { stateChanged?: boolean }).stateChanged) note('wrongAcceptances', c, e.message);
      else if (c.expect === 'accept') note('wrongRejections', c, e.message);
      const why = unclear(e.message, c.names);
      if (why) note('unclearMessages', c, `${why}: ${e.message.slice(0, 160)}`);
    }
  }
  model?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ tally, problems }) + '\n');
}

void main();

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

import { disposeAll, fromArrays, ImageDataset, memory } from '../../../lib';
import type { DeepPartial, SslConfig } from '../../../lib';
import { openDataset, seededSubset } from '../../../lib/data/open';
import { evaluateRepresentation } from '../../../lib/eval/representation';
import { pretrain, RUN_DEFAULTS } from '../../../lib/train/pretrain';
import { runConfig } from '../../../lib/train/runConfig';
import { loadTrainedModel } from '../../../lib/train/runInfo';
import { syntheticImages } from '../../helpers/synthetic';
import { idxBytes } from '../../helpers/files';

const SIZE = 16;
const tinyModel: DeepPartial<SslConfig> = {
  backbone: { width: 0.25 },
  projector: { hiddenDim: 64, outDim: 32 },
  optimizer: { lr: 0.1 },
  augment: { scale: [0.3, 1] },
};

function syntheticSet(n: number, seed: number, channels = 1): ImageDataset {
  const s = syntheticImages(n, channels, SIZE, seed, 4);
  // Label = which of the 4 prototypes; recover it from the generator order by re-running it is
  // overkill here: labels by index give a well-formed (if arbitrary) classification task.
  return fromArrays({ images: s.pixels, shape: [n, channels, SIZE, SIZE], labels: Array.from({ length: n }, (_, i) => i % 3), name: `synthetic-${seed}` });
}


describe('pretrain / evaluateRepresentation', () => {
  let dir: string;
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-run-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    expect(memory().numTensors).toBe(baseline);
  });

  test('defaults live in one object', () => {
    expect(RUN_DEFAULTS.evaluate).toEqual({ k: 200, temperature: 0.1, linearProbe: true, pixels: true });
    expect(RUN_DEFAULTS.pretrain.method).toBe('simclr');
    expect(Object.isFrozen(RUN_DEFAULTS)).toBe(true);
  });

  test('runConfig: method preset, data-derived channels and size, schedules span the run', () => {
    const c = runConfig({ method: 'simclr', ema: 'projector', seed: 4, model: tinyModel }, { sampleShape: [1, 28, 28] }, 123);
    expect(c.ema.parts).toBe('projector');
    expect(c.objective.name).toBe('ntxent');
    expect(c.backbone.inChannels).toBe(1);
    expect(c.augment.outSize).toBe(28);
    expect(c.totalSteps).toBe(123);
    expect(c.seed).toBe(4);
    expect(c.projector.hiddenDim).toBe(64);
    // User overrides win over the derived fields, except totalSteps.
    const d = runConfig({ method: 'moco', seed: 0, model: { augment: { outSize: 32 }, totalSteps: 5 } }, { sampleShape: [3, 28, 28] }, 10);
    expect(d.augment.outSize).toBe(32);
    expect(d.totalSteps).toBe(10);
    expect(d.objective.name).toBe('infonce');
  });

  test('bad method, EMA part and config types are ConfigErrors naming the culprit', async () => {
    const shape = { sampleShape: [1, 16, 16] as [number, number, number] };
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    };
    const a = err(() => runConfig({ method: 'swav', seed: 0 }, shape, 1));
    expect(a.name).toBe('ConfigError');
    expect(a.message).toMatch(/unknown method 'swav'.*simclr/);
    const data = syntheticSet(32, 1);
    try {
      const b = await pretrain({ dataset: data, method: 'simclr', ema: ['layer9'] as never, batchSize: 16, steps: 1, progress: 'none' }).catch((e) => e);
      expect(b.name).toBe('ConfigError');
      expect(b.message).toMatch(/unknown part 'layer9'/);
      const c = await pretrain({ dataset: data, model: { optimizer: { lr: 'fast' as never } }, batchSize: 16, steps: 1, progress: 'none' }).catch((e) => e);
      expect(c.name).toBe('ConfigError');
      expect(c.message).toMatch(/optimizer\.lr must be a number/);
      const d = await pretrain({ dataset: data, model: { optimiser: {} } as never, batchSize: 16, steps: 1, progress: 'none' }).catch((e) => e);
      expect(d.message).toMatch(/optimiser is not a known option/);
      const e = await pretrain({ dataset: data, batchSize: 64, steps: 1, progress: 'none' }).catch((x) => x);
      expect(e.message).toMatch(/batchSize 64 is larger than the training set \(32/);
      expect(data.disposed).toBe(false);
    } finally {
      data.dispose();
    }
  });

  test('pretrain with a step budget writes run.json, checkpoint and metrics; the run reloads', async () => {
    const data = syntheticSet(64, 2);
    const out = path.join(dir, 'run');
    const seen: number[] = [];
    const r = await pretrain({ dataset: data, method: 'simclr', ema: 'projector', model: tinyModel, batchSize: 16, steps: 6, seed: 1, outDir: out, progress: 'none', onStep: (e) => seen.push(e.step) });
    try {
      expect(r.fit.steps).toBe(6);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
      expect(r.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(r.history.every((h) => Number.isFinite(h.loss) && h.lr >= 0 && h.momentum >= 0.9)).toBe(true);
      expect(r.config.totalSteps).toBe(6);
      expect(r.config.backbone.inChannels).toBe(1);
      expect(r.config.augment.outSize).toBe(SIZE);
      expect(r.model.summary().emaParts).toEqual(['projector']);
      expect(fs.existsSync(r.paths.checkpoint!)).toBe(true);
      const run = JSON.parse(fs.readFileSync(r.paths.runInfo!, 'utf8'));
      expect(run).toMatchObject({ format: 'momentum-ssl-run', method: 'simclr', ema: 'projector', steps: 6, epochs: 2, batchSize: 16 });
      expect(fs.readFileSync(r.paths.metrics!, 'utf8').trim().split('\n')).toHaveLength(6);

      const { model } = await loadTrainedModel(out);
      const batch = data.batch([0, 1, 2]);
      const a = await r.model.embed(batch.images);
      const b = await model.embed(batch.images);
      expect(model.summary().step).toBe(6);
      expect(Array.from(b.toTypedArray() as Float32Array)).toEqual(Array.from(a.toTypedArray() as Float32Array));
      disposeAll(batch, a, b);
      model.dispose();

      // Resume of a finished run: nothing left to do.
      const again = await pretrain({ dataset: data, method: 'simclr', ema: 'projector', model: tinyModel, batchSize: 16, steps: 6, seed: 1, outDir: out, resume: true, progress: 'none' });
      expect(again.fit.resumedFrom).toBe(6);
      expect(again.fit.losses).toEqual([]);
      again.dispose();

      // A resume with other settings is refused before any file is written, naming the fields.
      const runJson = fs.readFileSync(r.paths.runInfo!, 'utf8');
      const changed = await pretrain({ dataset: data, method: 'simclr', ema: 'projector', model: { ...tinyModel, backbone: { width: 0.5 } }, batchSize: 8, steps: 6, seed: 1, outDir: out, resume: true, progress: 'none' }).catch((x) => x);
      expect(changed.name).toBe('ConfigError');
      expect(changed.message).toMatch(/cannot resume the run in .*: batchSize \(was 16, now 8\); backbone.width \(was 0.25, now 0.5\)/);
      expect(fs.readFileSync(r.paths.runInfo!, 'utf8')).toBe(runJson);

      // A checkpoint of another config does not load, and says why.
      const other = path.join(dir, 'other');
      fs.mkdirSync(other);
      fs.copyFileSync(r.paths.checkpoint!, path.join(other, 'checkpoint.pt'));
      fs.writeFileSync(path.join(other, 'run.json'), JSON.stringify({ ...run, config: { ...run.config, ema: { ...run.config.ema, parts: 'none' } } }));
      const e = await loadTrainedModel(other).catch((x) => x);
      expect(e.message).toMatch(/written by another model\/config/);
    } finally {
      r.dispose();
      data.dispose();
    }
    expect(data.disposed).toBe(true);
  });

  test('evaluateRepresentation: learned and raw-pixel kNN + linear probe', async () => {
    const train = syntheticSet(60, 3);
    const test = syntheticSet(30, 4);
    const r = await pretrain({ dataset: train, model: tinyModel, batchSize: 20, steps: 1, progress: 'none' });
    try {
      const e = await evaluateRepresentation(r.model, train, test, { k: 10, linearProbe: { maxIterations: 20 } });
      expect(e.trainSize).toBe(60);
      expect(e.testSize).toBe(30);
      expect(e.k).toBe(10);
      expect(e.temperature).toBe(0.1);
      expect(e.learned.featureDim).toBe(128);
      expect(e.pixels!.featureDim).toBe(SIZE * SIZE);
      for (const f of [e.learned, e.pixels!]) {
        expect(f.knn.top1).toBeGreaterThanOrEqual(0);
        expect(f.knn.top1).toBeLessThanOrEqual(1);
        expect(f.knn.top5).toBeGreaterThanOrEqual(f.knn.top1);
        expect(f.linear!.testAccuracy).toBeGreaterThanOrEqual(0);
        expect(f.linear!.evaluations).toBeGreaterThan(0);
      }
      const only = await evaluateRepresentation(r.model, train, test, { pixels: false, linearProbe: false });
      expect(only.pixels).toBeUndefined();
      expect(only.learned.linear).toBeUndefined();
      expect(only.k).toBe(200);
    } finally {
      r.dispose();
      train.dispose();
      test.dispose();
    }
  });

  test('openDataset: IDX folder by path, subsets, and one clear error for missing or corrupt files', async () => {
    const idx = path.join(dir, 'idx');
    fs.mkdirSync(idx);
    const n = 20;
    const px = Uint8Array.from({ length: n * 8 * 8 }, (_, i) => (i * 7) % 256);
    fs.writeFileSync(path.join(idx, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(idxBytes([n, 8, 8], px)));
    fs.writeFileSync(path.join(idx, 'train-labels-idx1-ubyte'), idxBytes([n], Uint8Array.from({ length: n }, (_, i) => i % 10)));
    const ds = await openDataset(idx, 'train');
    expect(ds.length).toBe(n);
    expect(ds.sampleShape).toEqual([1, 8, 8]);
    ds.dispose();
    const sub = await openDataset(idx, 'train', { subset: 5, seed: 3 });
    expect(sub.length).toBe(5);
    sub.dispose();

    const missing = await openDataset(path.join(dir, 'nope'), 'train').catch((e) => e);
    expect(missing.name).toBe('DatasetError');
    expect(missing.message).toMatch(/neither a known name.*nor an existing folder/);
    // The test split of this folder is absent: it is not an IDX folder for that split, nor an image folder.
    const noTest = await openDataset(idx, 'test').catch((e) => e);
    expect(noTest.message).toMatch(/no class sub-folders|sharp/);

    fs.writeFileSync(path.join(idx, 'train-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 20, 1, 2]));
    const corrupt = await openDataset(idx, 'train').catch((e) => e);
    expect(corrupt.name).toBe('DatasetError');
    expect(corrupt.message).toMatch(/train-labels-idx1-ubyte: truncated/);

    const cifar = await openDataset('cifar10', 'train').catch((e) => e);
    expect(cifar.name).toBe('ConfigError');
    expect(cifar.message).toMatch(/data-dir/);
  });

  test('seededSubset: distinct, sorted, reproducible', () => {
    const a = seededSubset(1000, 50, 7);
    expect(new Set(a).size).toBe(50);
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(Array.from(seededSubset(1000, 50, 7))).toEqual(Array.from(a));
    expect(Array.from(seededSubset(1000, 50, 8))).not.toEqual(Array.from(a));
    expect(seededSubset(10, 50, 0).length).toBe(10);
  });
});

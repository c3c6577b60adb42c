import { configFor, defaultSslConfig, getMethod, METHODS, objectives, SslModel } from '../../../lib';
import { thrown } from '../../helpers/errors';

describe('methods registry', () => {
  test('lists simclr, moco, byol, simsiam, dino; each objective is registered natively', () => {
    expect(Object.keys(METHODS).sort()).toEqual(['byol', 'dino', 'moco', 'simclr', 'simsiam']);
    const names = objectives().map((o) => o.name);
    for (const m of Object.keys(METHODS)) expect(names).toContain(configFor(m).objective.name);
  });

  test('defaults come from the core: objective options with their declared defaults and ranges', () => {
    const d = defaultSslConfig();
    expect(d.objective).toEqual({ name: 'ntxent', temperature: 0.2 });
    expect(d.backbone).toMatchObject({ depth: 18, stem: 'cifar', width: 0.25 });
    expect(d.projector).toEqual({ hiddenDim: 512, outDim: 128, lastBn: false, prototypes: 0 });
    expect(Object.isFrozen(d.backbone)).toBe(true);
    const infonce = objectives().find((o) => o.name === 'infonce')!;
    expect(infonce.options.map((o) => o.name)).toEqual(['temperature', 'queueSize', 'inBatchNegatives']);
    expect(infonce.options[2]).toMatchObject({ kind: 'boolean', default: false });
  });

  test('simclr: NT-Xent, no EMA by default; ema option wires parts', () => {
    const c = configFor('simclr');
    expect(c.objective.name).toBe('ntxent');
    expect(c.ema.parts).toBe('none');
    expect(configFor('simclr', { ema: 'projector' }).ema.parts).toBe('projector');
    expect(configFor('simclr', { ema: ['layer4', 'projector'] }).ema.parts).toEqual(['layer4', 'projector']);
  });

  test('moco v2 uses a queue and full EMA; v3 a predictor and in-batch negatives', () => {
    const v2 = configFor('moco');
    expect(v2.objective).toEqual({ name: 'infonce', temperature: 0.2, queueSize: 4096, inBatchNegatives: false });
    expect(v2.ema).toMatchObject({ parts: 'full', base: 0.99, final: 0.99 });
    const v3 = configFor('moco', { variant: 'v3' });
    expect(v3.objective).toMatchObject({ name: 'infonce', queueSize: 0, inBatchNegatives: true });
    expect(v3.predictor.hiddenDim).toBeGreaterThan(0);
    expect(thrown(() => configFor('moco', { variant: 'v9' as 'v2' })).message).toMatch(/variant must be 'v2' or 'v3'/);
  });

  test('byol has a predictor and a cosine momentum schedule; simsiam none and the last BN', () => {
    const c = configFor('byol');
    expect(c.objective.name).toBe('byol');
    expect(c.predictor.hiddenDim).toBeGreaterThan(0);
    expect(c.ema).toMatchObject({ parts: 'full', base: 0.99, final: 1 });
    const s = configFor('simsiam');
    expect(s.objective).toEqual({ name: 'simsiam' });
    expect(s.projector.lastBn).toBe(true);
    expect(s.ema.parts).toBe('none');
    expect(configFor('simsiam', { ema: 'projector' }).ema.parts).toBe('projector');
  });

  test('dino: prototypes, multi-crop, EMA teacher 0.996 → 1, its own temperatures', () => {
    const c = configFor('dino', { localCrops: 2, prototypes: 256 });
    expect(c.projector.prototypes).toBe(256);
    expect(c.augment).toMatchObject({ localCrops: 2, scale: [0.4, 1] });
    expect(c.ema).toMatchObject({ parts: 'full', base: 0.996, final: 1 });
    expect(c.objective).toMatchObject({ name: 'dino', studentTemperature: 0.1, teacherTemperature: 0.07, centerMomentum: 0.9 });
  });

  test('user overrides win over presets; unknown methods and keys are errors naming what is known', () => {
    expect(configFor('moco', {}, { objective: { queueSize: 256 } }).objective.queueSize).toBe(256);
    expect(thrown(() => getMethod('swav')).message).toMatch(/unknown method 'swav'; available: simclr, moco, byol, simsiam, dino/);
    expect(thrown(() => getMethod('constructor')).message).toMatch(/unknown method 'constructor'/);
    // Unknown keys reach the core, which names them with the known ones.
    const tiny = { backbone: { width: 0.125 }, augment: { outSize: 8 } };
    expect(thrown(() => SslModel.create(configFor('simclr', {}, { ...tiny, objective: { tau: 1 } } as never))).message).toMatch(
      /objective.tau is not an option of objective 'ntxent' \(its options: temperature\)/,
    );
    expect(thrown(() => SslModel.create(configFor('simclr', {}, { ...tiny, backbone: { widht: 1 } } as never))).message).toMatch(
      /config.backbone.widht is not a known option \(known: depth, stem, inChannels, width, zeroInitResidual\)/,
    );
  });
});

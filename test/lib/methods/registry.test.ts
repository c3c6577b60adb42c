import { configFor, getMethod, METHODS, resolveEmaParts } from '../../../lib';
import { thrown } from '../../helpers/errors';

describe('methods registry', () => {
  test('lists simclr, moco, byol', () => {
    expect(Object.keys(METHODS).sort()).toEqual(['byol', 'moco', 'simclr']);
  });

  test('simclr: NT-Xent, no EMA by default; ema option wires parts', () => {
    const c = configFor('simclr');
    expect(c.loss.name).toBe('ntxent');
    expect(c.ema.parts).toBe('none');
    expect(configFor('simclr', { ema: 'projector' }).ema.parts).toBe('projector');
    const parts = configFor('simclr', { ema: ['layer4', 'projector'] });
    expect(resolveEmaParts(parts.ema.parts)).toEqual(['layer4', 'projector']);
    expect(resolveEmaParts(configFor('simclr', { ema: 'full' }).ema.parts)).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'projector']);
  });

  test('moco v2 uses a queue and full EMA; v3 a predictor and in-batch negatives', () => {
    const v2 = configFor('moco');
    expect(v2.loss).toMatchObject({ name: 'infonce', queueSize: 4096, inBatchNegatives: false });
    expect(v2.ema.parts).toBe('full');
    const v3 = configFor('moco', { variant: 'v3' });
    expect(v3.loss).toMatchObject({ name: 'infonce', queueSize: 0, inBatchNegatives: true });
    expect(v3.predictor.hiddenDim).toBeGreaterThan(0);
    expect(thrown(() => configFor('moco', { variant: 'v9' as 'v2' })).message).toMatch(/variant must be 'v2' or 'v3'/);
  });

  test('byol has a predictor and a cosine momentum schedule', () => {
    const c = configFor('byol');
    expect(c.loss.name).toBe('byol');
    expect(c.predictor.hiddenDim).toBeGreaterThan(0);
    expect(c.ema).toMatchObject({ parts: 'full', base: 0.99, final: 1 });
  });

  test('user overrides win over presets; unknown methods and keys are errors', () => {
    expect(configFor('moco', {}, { loss: { queueSize: 256 } }).loss.queueSize).toBe(256);
    expect(thrown(() => getMethod('swav')).message).toMatch(/unknown method 'swav'; available: simclr, moco, byol/);
    expect(thrown(() => configFor('simclr', {}, { loss: { tau: 1 } } as never)).message).toMatch(/config.loss.tau is not a known option/);
  });
});

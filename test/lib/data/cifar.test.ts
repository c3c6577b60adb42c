import * as fs from 'fs';
import * as path from 'path';

import { memory } from '../../../lib';
import { loadCifar10, loadCifar100 } from '../../../lib/data';
import { num, removeDir, tempDir } from '../../helpers/files';

const PIX = 3072;
// Pixel p (CHW order) of the record with global id g: (g*31 + p*7) & 255.
const pix = (g: number): Uint8Array => Uint8Array.from({ length: PIX }, (_, p) => (g * 31 + p * 7) & 255);
function records(labelBytes: number[][], first: number): Buffer {
  return Buffer.concat(labelBytes.map((lb, r) => Buffer.concat([Buffer.from(lb), Buffer.from(pix(first + r))])));
}

describe('CIFAR binary', () => {
  let dir: string;
  let baseline: number;
  beforeAll(() => {
    baseline = memory().numTensors;
    dir = tempDir('cifar');
    // CIFAR-10 in the archive's sub-folder: 5 train batches of 2 records + a test batch of 3.
    const c10 = path.join(dir, 'c10', 'cifar-10-batches-bin');
    fs.mkdirSync(c10, { recursive: true });
    for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(c10, `data_batch_${b}.bin`), records([[b], [9 - b]], 2 * (b - 1)));
    fs.writeFileSync(path.join(c10, 'test_batch.bin'), records([[3], [0], [9]], 100));
    fs.writeFileSync(path.join(c10, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
    // CIFAR-100 directly in the folder: coarse then fine label.
    const c100 = path.join(dir, 'c100');
    fs.mkdirSync(c100);
    fs.writeFileSync(path.join(c100, 'train.bin'), records([[19, 99], [0, 42], [7, 5]], 200));
    fs.writeFileSync(path.join(c100, 'test.bin'), records([[1, 2]], 300));
  });
  afterAll(() => {
    removeDir(dir);
    expect(memory().numTensors).toBe(baseline);
  });

  test('CIFAR-10 train: five batches, CHW pixels, labels, class names', async () => {
    const ds = await loadCifar10(path.join(dir, 'c10'));
    expect(ds.images.shape).toEqual([10, 3, 32, 32]);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames?.[0]).toBe('airplane');
    expect(ds.name).toBe('cifar10/train');
    expect(num(ds.labels.toTypedArray())).toEqual([1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    const b = ds.batch([0, 9]);
    expect(num(b.images.toTypedArray())).toEqual([...num(pix(0)), ...num(pix(9))]);
    b.images.dispose();
    b.labels.dispose();
    b.index.dispose();
    ds.dispose();
    const test = await loadCifar10(path.join(dir, 'c10', 'cifar-10-batches-bin'), { split: 'test' });
    expect(test.length).toBe(3);
    expect(num(test.labels.toTypedArray())).toEqual([3, 0, 9]);
    expect(num(test.images.toTypedArray()).slice(PIX, 2 * PIX)).toEqual(num(pix(101)));
    test.dispose();
  });

  test('CIFAR-100: fine or coarse labels', async () => {
    const fine = await loadCifar100(path.join(dir, 'c100'));
    expect(fine.images.shape).toEqual([3, 3, 32, 32]);
    expect(fine.numClasses).toBe(100);
    expect(num(fine.labels.toTypedArray())).toEqual([99, 42, 5]);
    expect(num(fine.images.toTypedArray()).slice(2 * PIX)).toEqual(num(pix(202)));
    fine.dispose();
    const coarse = await loadCifar100(path.join(dir, 'c100'), { label: 'coarse' });
    expect(coarse.numClasses).toBe(20);
    expect(num(coarse.labels.toTypedArray())).toEqual([19, 0, 7]);
    coarse.dispose();
    const t = await loadCifar100(path.join(dir, 'c100'), { split: 'test' });
    expect(num(t.labels.toTypedArray())).toEqual([2]);
    t.dispose();
  });

  test('bad files give errors naming the file', async () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    const trunc = path.join(bad, 'train.bin');
    fs.writeFileSync(trunc, records([[1, 2], [3, 4]], 0).subarray(0, 5000));
    await expect(loadCifar100(bad)).rejects.toThrow(`${trunc}: size 5000 bytes is not a positive multiple of the CIFAR-100 record size 3074`);
    // A CIFAR-100 file read as CIFAR-10 is caught by its size.
    await expect(loadCifar10(bad, { files: [path.join(dir, 'c100', 'train.bin')] })).rejects.toThrow(/train\.bin: size 9222 bytes is not a positive multiple of the CIFAR-10 record size 3073/);
    const lab = path.join(bad, 'badlabel.bin');
    fs.writeFileSync(lab, records([[0], [12]], 0));
    await expect(loadCifar10(bad, { files: [lab] })).rejects.toThrow(`${lab}: record 1 has label 12, expected 0..9`);
    const empty = path.join(bad, 'empty.bin');
    fs.writeFileSync(empty, Buffer.alloc(0));
    await expect(loadCifar10(bad, { files: [empty] })).rejects.toThrow(/empty\.bin: size 0 bytes is not a positive multiple/);
    await expect(loadCifar10(path.join(dir, 'none'))).rejects.toMatchObject({ name: 'DatasetError', code: 'ERR_DATASET_MISSING' });
    await expect(loadCifar10(path.join(dir, 'none'))).rejects.toThrow(/none[\\/]data_batch_1\.bin: CIFAR-10 file not found/);
    await expect(loadCifar10(dir, { split: 'val' as never })).rejects.toThrow(/split must be 'train' or 'test'/);
    await expect(loadCifar100(dir, { label: 'medium' as never })).rejects.toThrow(/label must be 'fine' or 'coarse'/);
  });
});

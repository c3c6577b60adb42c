import * as fs from 'fs';
import * as path from 'path';

import { memory } from '../../../lib';
import { imageFolderAvailable, loadImageFolder } from '../../../lib/data';
import { num, removeDir, tempDir } from '../../helpers/files';

// sharp is an optionalDependency: without it the folder loader says how to get it.
const haveSharp = imageFolderAvailable();
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sharp = haveSharp ? require('sharp') : null;

async function png(file: string, w: number, h: number, rgb: (x: number, y: number) => [number, number, number]): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(rgb(x, y), (y * w + x) * 3);
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

(haveSharp ? describe : describe.skip)('image folder (sharp)', () => {
  let root: string;
  let baseline: number;
  const pattern = (x: number, y: number): [number, number, number] => [10 * x + y, 100 + x, 200 + y];

  beforeAll(async () => {
    baseline = memory().numTensors;
    root = tempDir('folder');
    for (const c of ['cat', 'dog']) fs.mkdirSync(path.join(root, c));
    await png(path.join(root, 'cat', 'a.png'), 4, 3, pattern);
    await png(path.join(root, 'cat', 'b.png'), 4, 3, () => [255, 0, 0]);
    // Wrong size, uniform: any fit gives the same colour at 4x3.
    await png(path.join(root, 'dog', 'big.png'), 12, 9, () => [0, 0, 255]);
    fs.writeFileSync(path.join(root, 'dog', 'notes.txt'), 'not an image');
  });
  afterAll(() => {
    removeDir(root);
    expect(memory().numTensors).toBe(baseline);
  });

  test('classes from sorted sub-folders, exact pixels in CHW, wrong size resized', async () => {
    const ds = await loadImageFolder(root);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.images.shape).toEqual([3, 3, 3, 4]);
    expect(num(ds.labels.toTypedArray())).toEqual([0, 0, 1]);
    const px = num(ds.images.toTypedArray());
    const plane = 12;
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        const [r, g, b] = pattern(x, y);
        expect([px[y * 4 + x], px[plane + y * 4 + x], px[2 * plane + y * 4 + x]]).toEqual([r, g, b]);
      }
    }
    expect(new Set(px.slice(36, 48))).toEqual(new Set([255]));
    expect(new Set(px.slice(48, 72))).toEqual(new Set([0]));
    const blue = px.slice(72);
    expect(blue.slice(0, 24).every((v) => v === 0) && blue.slice(24).every((v) => v === 255)).toBe(true);
    ds.dispose();
  });

  test('configured size and one channel', async () => {
    const ds = await loadImageFolder(root, { size: [6, 5], channels: 1, fit: 'fill', name: 'gray' });
    expect(ds.images.shape).toEqual([3, 1, 6, 5]);
    expect(ds.name).toBe('gray');
    const px = num(ds.images.toTypedArray());
    ds.dispose();
    // Uniform images stay uniform; libvips grays by lightness, so red is brighter than blue.
    const red = new Set(px.slice(30, 60));
    const blue = new Set(px.slice(60, 90));
    expect(red.size).toBe(1);
    expect(blue.size).toBe(1);
    expect([...red][0]).toBeGreaterThan([...blue][0]);
    expect([...blue][0]).toBeGreaterThan(0);
  });

  test('a corrupt image fails with its file name; bad folders and options are clear', async () => {
    const bad = tempDir('folder-bad');
    try {
      fs.mkdirSync(path.join(bad, 'x'));
      await png(path.join(bad, 'x', 'ok.png'), 2, 2, () => [1, 2, 3]);
      const corrupt = path.join(bad, 'x', 'zz-corrupt.png');
      fs.writeFileSync(corrupt, Buffer.from('\x89PNG\r\n\x1a\n this is not really a png'));
      await expect(loadImageFolder(bad)).rejects.toThrow(`${corrupt}: cannot decode image`);
      await expect(loadImageFolder(bad)).rejects.toMatchObject({ name: 'DatasetError', file: corrupt });
      await expect(loadImageFolder(path.join(bad, 'missing'))).rejects.toThrow(/missing: image folder not found/);
      fs.mkdirSync(path.join(bad, 'flat'));
      await expect(loadImageFolder(path.join(bad, 'flat'))).rejects.toThrow(/flat: no class sub-folders/);
      fs.mkdirSync(path.join(bad, 'flat', 'c'));
      await expect(loadImageFolder(path.join(bad, 'flat'))).rejects.toThrow(/flat: no image files/);
      await expect(loadImageFolder(bad, { size: 0 })).rejects.toThrow(/size must be a positive integer or \[height, width\]/);
      await expect(loadImageFolder(bad, { channels: 2 as never })).rejects.toThrow(/channels must be 1 or 3/);
    } finally {
      removeDir(bad);
    }
  });
});

test('imageFolderAvailable reports the optional decoder', () => {
  expect(typeof haveSharp).toBe('boolean');
});

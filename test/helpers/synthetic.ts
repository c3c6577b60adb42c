// Synthetic image data with structure a contrastive learner can pick up: each image is one of a
// few random prototypes plus noise, so views of the same image agree more than views of others.
import { Tensor } from '../../lib';

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export interface SyntheticData {
  pixels: Uint8Array;
  n: number;
  channels: number;
  size: number;
  batch(i: number, batchSize: number): { images: Tensor; index: Tensor };
}

export function syntheticImages(n: number, channels: number, size: number, seed: number, prototypes = 8): SyntheticData {
  const rand = lcg(seed);
  const per = channels * size * size;
  const protos = Array.from({ length: prototypes }, () => Float32Array.from({ length: per }, () => rand() * 255));
  const pixels = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) {
    const p = protos[Math.floor(rand() * prototypes)];
    for (let j = 0; j < per; j++) pixels[i * per + j] = Math.max(0, Math.min(255, Math.round(p[j] + (rand() - 0.5) * 60)));
  }
  return {
    pixels,
    n,
    channels,
    size,
    batch(i: number, batchSize: number) {
      const start = (i * batchSize) % n;
      const images = Tensor.from(pixels.subarray(start * per, (start + batchSize) * per), [batchSize, channels, size, size]);
      const index = Tensor.from(BigInt64Array.from({ length: batchSize }, (_, k) => BigInt(start + k)), [batchSize]);
      return { images, index };
    },
  };
}

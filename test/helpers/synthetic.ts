// Synthetic image data with structure a contrastive learner can pick up.
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

/** Bilinear upsampling of a g×g grid per channel to size×size (test data only). */
function smoothPattern(rand: () => number, channels: number, size: number, g: number): Float32Array {
  const grid = Float32Array.from({ length: channels * g * g }, () => rand() * 255);
  const out = new Float32Array(channels * size * size);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < size; y++) {
      const gy = (y / (size - 1)) * (g - 1);
      const y0 = Math.floor(gy);
      const y1 = Math.min(y0 + 1, g - 1);
      const fy = gy - y0;
      for (let x = 0; x < size; x++) {
        const gx = (x / (size - 1)) * (g - 1);
        const x0 = Math.floor(gx);
        const x1 = Math.min(x0 + 1, g - 1);
        const fx = gx - x0;
        const at = (yy: number, xx: number) => grid[c * g * g + yy * g + xx];
        out[c * size * size + y * size + x] =
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
    }
  }
  return out;
}

/**
 * `n` images, each one of `prototypes` smooth random colour patterns (a 3×3 grid upsampled, so
 * crops of one image still look alike) plus pixel noise.
 */
export function syntheticImages(n: number, channels: number, size: number, seed: number, prototypes = 32): SyntheticData {
  const rand = lcg(seed);
  const per = channels * size * size;
  const protos = Array.from({ length: prototypes }, () => smoothPattern(rand, channels, size, 3));
  const pixels = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) {
    const p = protos[Math.floor(rand() * prototypes)];
    for (let j = 0; j < per; j++) pixels[i * per + j] = Math.max(0, Math.min(255, Math.round(p[j] + (rand() - 0.5) * 40)));
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

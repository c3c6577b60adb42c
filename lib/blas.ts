// Which BLAS LibTorch is calling, read from the libraries mapped into this process after the addon
// loaded (Debian's LibTorch links libblas.so.3, which the alternatives system points at OpenBLAS,
// BLIS, MKL or the slow reference BLAS). No native code: /proc/self/maps names the real files.
import * as fs from 'fs';

export type BlasName = 'openblas' | 'blis' | 'mkl' | 'reference' | 'unknown';

export interface BlasInfo {
  name: BlasName;
  /** The mapped library file (after symlinks), or null when no BLAS is mapped. */
  path: string | null;
  /** OpenBLAS variant folder on Debian (openblas-openmp, openblas-pthread, openblas-serial). */
  variant?: string;
  /** The reference BLAS: correct but slow (README: a training step 1.5x slower). */
  slow: boolean;
}

/** Classifies the mapped library paths (lines of /proc/self/maps or plain paths). Exported for tests. */
export function blasFromMaps(maps: string): BlasInfo | null {
  const paths = [...new Set(maps.split('\n').map((l) => /(\/\S+\.so[\w.]*)\s*$/.exec(l)?.[1]).filter((p): p is string => p !== undefined))];
  const blas = paths.filter((p) => /\/lib(open)?blas[^/]*\.so|\/libblis[^/]*\.so|\/libmkl_[^/]+\.so/.test(p));
  if (blas.length === 0) return null;
  const find = (re: RegExp) => blas.find((p) => re.test(p));
  const openblas = find(/openblas/);
  if (openblas) return { name: 'openblas', path: openblas, variant: /\/(openblas-[a-z]+)\//.exec(openblas)?.[1], slow: false };
  const mkl = find(/libmkl_/);
  if (mkl) return { name: 'mkl', path: mkl, slow: false };
  const blis = find(/blis/);
  if (blis) return { name: 'blis', path: blis, slow: false };
  // Debian's reference BLAS lives in .../blas/libblas.so.3 (package libblas3).
  const ref = find(/\/blas\/libblas\.so/);
  if (ref) return { name: 'reference', path: ref, slow: true };
  return { name: 'unknown', path: blas[0], slow: false };
}

/** The BLAS mapped into this process now (load the addon first), or null if none is mapped. */
export function blasInUse(): BlasInfo | null {
  try {
    return blasFromMaps(fs.readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return null;
  }
}

/** The warning `momentum-ssl info` prints for the reference BLAS, or null. */
export function blasWarning(b: BlasInfo | null): string | null {
  if (b === null || !b.slow) return null;
  return `LibTorch is using the reference BLAS (${b.path}), which is slow; install OpenBLAS: sudo apt-get install libopenblas0-openmp`;
}

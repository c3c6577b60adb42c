// lib/blas.ts: which BLAS LibTorch calls, from the mapped libraries.
import { blasFromMaps, blasInUse, blasWarning } from '../../lib/blas';
import { binding } from '../../lib/native';

const line = (p: string) => `7f0000000000-7f0000001000 r-xp 00000000 08:01 1234   ${p}`;

describe('blas', () => {
  test('Debian OpenBLAS (openmp) through the libblas.so.3 alternative', () => {
    const b = blasFromMaps([line('/usr/lib/x86_64-linux-gnu/libc10.so.1.13'), line('/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3'), line('/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblasp-r0.3.21.so')].join('\n'));
    expect(b).toEqual({ name: 'openblas', path: '/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3', variant: 'openblas-openmp', slow: false });
    expect(blasWarning(b)).toBeNull();
  });

  test('the reference BLAS: slow, with a warning naming the fix', () => {
    const b = blasFromMaps(line('/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'));
    expect(b).toMatchObject({ name: 'reference', slow: true });
    expect(blasWarning(b)).toMatch(/reference BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3\).*apt-get install libopenblas0-openmp/);
  });

  test('BLIS, MKL, none', () => {
    expect(blasFromMaps(line('/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3'))?.name).toBe('blis');
    expect(blasFromMaps(line('/opt/intel/lib/libmkl_rt.so.2'))?.name).toBe('mkl');
    expect(blasFromMaps([line('/usr/lib/libc.so.6'), '7f00-7f01 rw-p 00000000 00:00 0'].join('\n'))).toBeNull();
  });

  test('after the addon loads, LibTorch has a BLAS mapped', () => {
    binding();
    expect(blasInUse()?.path).toMatch(/\.so/);
  });
});

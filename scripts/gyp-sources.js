#!/usr/bin/env node
'use strict';
// Lists the addon's C++ sources for binding.gyp (the same set CMakeLists.txt globs: no bench-only
// bench_binding.cc, which goes into CMake's momentum_ssl_bench.node), or with
// --cuda-libs the extra link flags a CUDA LibTorch needs.
const fs = require('fs');
const path = require('path');
const { resolveLibTorch } = require('./find-libtorch');

const root = path.resolve(__dirname, '..');
if (process.argv.includes('--cuda-libs')) {
  const t = resolveLibTorch();
  // torch_cuda is referenced by nothing in the addon; without --no-as-needed the linker drops it.
  if (t.ok && t.cuda) process.stdout.write('-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed\n');
  else process.stdout.write('\n');
} else {
  const files = [];
  for (const dir of ['native/core', 'native/core/objectives', 'native/napi']) {
    for (const f of fs.readdirSync(path.join(root, dir)).sort()) if (f.endsWith('.cc') && f !== 'bench_binding.cc') files.push(`${dir}/${f}`);
  }
  process.stdout.write(files.join(' ') + '\n');
}

#!/usr/bin/env node
'use strict';
// The one LibTorch resolver (design §8). CMakeLists.txt, binding.gyp, scripts/install.js and the
// runtime loader all ask it, so every build path agrees on which LibTorch it uses and every
// failure can say what was tried. Plain CommonJS: it runs before TypeScript is compiled.
//
// Ladder: LIBTORCH → CMAKE_PREFIX_PATH / Torch_DIR → Python torch (opt-in with
// MOMENTUM_SSL_PYTHON_TORCH=1, or MOMENTUM_SSL_CUDA=1) → system install (Debian libtorch-dev).

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const CONFIG = 'TorchConfig.cmake';

function exists(p) {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

function multiarch() {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch] || process.arch;
  return `${arch}-linux-gnu`;
}

// Where a TorchConfig.cmake may sit below a prefix (official zip, pip wheel, Debian, /usr/local).
function configDirsUnder(prefix) {
  return [
    prefix,
    path.join(prefix, 'share', 'cmake', 'Torch'),
    path.join(prefix, 'Torch'),
    path.join(prefix, 'lib', 'cmake', 'Torch'),
    path.join(prefix, 'lib', multiarch(), 'cmake', 'Torch'),
  ];
}

function findConfigDir(prefix) {
  return configDirsUnder(prefix).find((d) => exists(path.join(d, CONFIG))) || null;
}

// Describe a LibTorch from the directory holding its TorchConfig.cmake.
function describe(torchDir, source) {
  const cfg = fs.readFileSync(path.join(torchDir, CONFIG), 'utf8');
  // The config computes its prefix as four levels up; Debian's layout breaks that (it lands on /),
  // so find the prefix by looking for the headers instead.
  const candidates = [
    path.resolve(torchDir, '../../..'),
    path.resolve(torchDir, '../../../..'),
    path.resolve(torchDir, '../../../../usr'),
    path.resolve(torchDir, '../..'),
  ];
  const prefix = candidates.find((p) => exists(path.join(p, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')));
  if (!prefix) return { ok: false, why: `${torchDir} has ${CONFIG} but no include/torch headers next to it` };
  const libCandidates = [path.join(prefix, 'lib'), path.join(prefix, 'lib', multiarch()), path.resolve(torchDir, '../..'), path.resolve(torchDir, '..')];
  const libDir = libCandidates.find((d) => exists(path.join(d, 'libtorch_cpu.so')) || exists(path.join(d, 'libtorch_cpu.dylib')));
  if (!libDir) return { ok: false, why: `${torchDir} has ${CONFIG} but no libtorch_cpu library was found near it` };
  const versionH = fs.readFileSync(path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'), 'utf8');
  const num = (name) => (versionH.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`)) || [])[1];
  const version = [num('MAJOR'), num('MINOR'), num('PATCH')].join('.');
  const abi = (cfg.match(/_GLIBCXX_USE_CXX11_ABI=(\d)/) || [])[1];
  const cuda = exists(path.join(libDir, 'libtorch_cuda.so'));
  // c10d's backends (design §9): the Gloo headers are not part of LibTorch's own include tree on
  // Debian (libgloo-dev), and NCCL's header comes with a CUDA install or pip's nvidia-nccl.
  const c10d = exists(path.join(prefix, 'include', 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupGloo.hpp'));
  const headerDir = (dirs, file) => dirs.find((d) => exists(path.join(d, file))) || '';
  const gloo = c10d ? headerDir([path.join(prefix, 'include'), '/usr/include', '/usr/local/include'], path.join('gloo', 'config.h')) : '';
  const nccl = c10d && cuda ? headerDir([path.join(prefix, 'include'), path.resolve(prefix, '..', 'nvidia', 'nccl', 'include'), '/usr/include', '/usr/local/cuda/include'], 'nccl.h') : '';
  return {
    ok: true,
    source,
    torchDir,
    prefix,
    libDir,
    includeDirs: [path.join(prefix, 'include'), path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include')],
    version,
    cxx11abi: abi === undefined ? 1 : Number(abi),
    cuda,
    gloo,
    nccl,
  };
}

function pythonCandidates(env) {
  return [env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
}

function fromPython(env, tried) {
  for (const py of pythonCandidates(env)) {
    try {
      const out = execFileSync(py, ['-c', 'import torch.utils; print(torch.utils.cmake_prefix_path)'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60000,
      }).trim();
      const dir = findConfigDir(out);
      if (dir) return { dir, where: `${py}: torch.utils.cmake_prefix_path=${out}` };
      tried.push(`python torch (${py}): ${out} has no ${CONFIG}`);
    } catch {
      tried.push(`python torch (${py}): cannot import torch`);
    }
  }
  return null;
}

/**
 * Resolve LibTorch. Returns a description ({ ok: true, source, torchDir, prefix, libDir,
 * includeDirs, version, cxx11abi, cuda, tried }) or { ok: false, tried, help }.
 */
function resolveLibTorch(env = process.env) {
  const tried = [];
  const attempt = (source, dir, label) => {
    if (!dir) return null;
    const d = describe(dir, source);
    if (d.ok) return { ...d, tried };
    tried.push(`${label}: ${d.why}`);
    return null;
  };

  if (env.LIBTORCH) {
    const dir = findConfigDir(env.LIBTORCH);
    if (!dir) tried.push(`LIBTORCH=${env.LIBTORCH}: no ${CONFIG} below it`);
    const r = attempt('LIBTORCH', dir, `LIBTORCH=${env.LIBTORCH}`);
    if (r) return r;
  } else {
    tried.push('LIBTORCH: not set');
  }

  const prefixes = [];
  if (env.Torch_DIR) prefixes.push(env.Torch_DIR);
  for (const p of (env.CMAKE_PREFIX_PATH || '').split(path.delimiter).filter(Boolean)) prefixes.push(p);
  if (prefixes.length === 0) tried.push('CMAKE_PREFIX_PATH / Torch_DIR: not set');
  for (const p of prefixes) {
    const dir = findConfigDir(p);
    if (!dir) tried.push(`CMAKE_PREFIX_PATH/Torch_DIR entry ${p}: no ${CONFIG}`);
    const r = attempt('CMAKE_PREFIX_PATH', dir, p);
    if (r) return r;
  }

  const wantPython = env.MOMENTUM_SSL_PYTHON_TORCH === '1' || env.MOMENTUM_SSL_CUDA === '1';
  if (wantPython) {
    const py = fromPython(env, tried);
    if (py) {
      const r = attempt('python', py.dir, py.where);
      if (r) return r;
    }
  } else {
    tried.push('python torch: skipped (set MOMENTUM_SSL_PYTHON_TORCH=1 to use it)');
  }

  const system = ['/usr', '/usr/local', '/opt/libtorch'];
  for (const p of system) {
    const dir = findConfigDir(p);
    const r = attempt('system', dir, `system ${p}`);
    if (r) return r;
  }
  tried.push(`system: no ${CONFIG} under ${system.join(', ')}`);
  return { ok: false, tried, help: helpText() };
}

function helpText() {
  return [
    'momentum-ssl needs LibTorch (the C++ library of PyTorch, 1.13 or newer). Provide it in one of these ways:',
    '  - Debian/Ubuntu: sudo apt-get install libtorch-dev   (then: npm rebuild momentum-ssl)',
    '  - a LibTorch folder (unpacked libtorch zip): LIBTORCH=/path/to/libtorch npm rebuild momentum-ssl',
    '  - a CMake prefix holding share/cmake/Torch: CMAKE_PREFIX_PATH=/prefix (or Torch_DIR=/dir/with/TorchConfig.cmake)',
    '  - the LibTorch inside pip torch (CUDA too): MOMENTUM_SSL_PYTHON_TORCH=1 [PYTHON=/path/python3] npm rebuild momentum-ssl',
    'As root on Debian/Ubuntu the install installs libtorch-dev itself unless MOMENTUM_SSL_NO_APT=1.',
  ].join('\n');
}

module.exports = { resolveLibTorch, helpText };

if (require.main === module) {
  const r = resolveLibTorch();
  const arg = process.argv[2] || '--json';
  if (!r.ok) {
    process.stderr.write(`LibTorch not found. Tried:\n  ${r.tried.join('\n  ')}\n${r.help}\n`);
    process.exit(1);
  }
  switch (arg) {
    case '--json':
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      break;
    case '--cmake': // key=value lines for CMakeLists.txt
      for (const k of ['source', 'torchDir', 'prefix', 'libDir', 'version', 'cxx11abi']) process.stdout.write(`${k}=${r[k]}\n`);
      process.stdout.write(`cuda=${r.cuda ? 1 : 0}\n`);
      process.stdout.write(`gloo=${r.gloo}\nnccl=${r.nccl}\n`);
      break;
    case '--include': // for binding.gyp
      process.stdout.write([...r.includeDirs, r.gloo, r.nccl].filter(Boolean).join(' ') + '\n');
      break;
    case '--dist-defines': // for binding.gyp: the c10d backends this build can compile
      process.stdout.write([...(r.gloo ? ['USE_C10D_GLOO', 'MSSL_WITH_GLOO=1'] : []), ...(r.nccl ? ['USE_C10D_NCCL', 'MSSL_WITH_NCCL=1'] : [])].join(' ') + '\n');
      break;
    case '--libdir':
      process.stdout.write(r.libDir + '\n');
      break;
    case '--abi':
      process.stdout.write(`${r.cxx11abi}\n`);
      break;
    case '--cuda':
      process.stdout.write(`${r.cuda ? 1 : 0}\n`);
      break;
    default:
      process.stderr.write(`unknown option ${arg}; use --json, --cmake, --include, --dist-defines, --libdir, --abi or --cuda\n`);
      process.exit(2);
  }
}

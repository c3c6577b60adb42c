#!/usr/bin/env node
'use strict';
// npm install hook: use the prebuilt addon shipped in prebuilds/<platform>-<arch>/ when it fits
// (scripts/prebuild-match.js) and loads, installing Debian's runtime package libtorch1.13 first
// when it is missing and we may; else find LibTorch (installing Debian's libtorch-dev when we are
// root on Debian/Ubuntu and allowed to) and build with cmake-js. Nothing is downloaded from
// anywhere but Debian's archive; Node headers come from the node-api-headers package
// (package.json "binary.napi_versions"), not from the internet. The runtime loader (lib/loader.ts)
// makes the same choice again at require time, so this hook is optional when a prebuild fits.
//
//   --force   build from source even if a prebuilt or built addon exists (also:
//             MOMENTUM_SSL_BUILD_FROM_SOURCE=1, or LIBTORCH / Torch_DIR / MOMENTUM_SSL_CUDA /
//             MOMENTUM_SSL_PYTHON_TORCH set)
// Env: MOMENTUM_SSL_NO_APT=1 (never run apt-get), MOMENTUM_SSL_SKIP_BUILD=1, MOMENTUM_SSL_DEBUG=1,
//      MOMENTUM_SSL_JOBS=N (parallel compile jobs), plus the LibTorch ladder of find-libtorch.js.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { resolveLibTorch, helpText } = require('./find-libtorch');
const { checkPrebuild } = require('./prebuild-match');

const root = path.resolve(__dirname, '..');
const log = (msg) => process.stdout.write(`momentum-ssl: ${msg}\n`);

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  return r.status;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function canApt() {
  return (
    process.platform === 'linux' &&
    fs.existsSync('/etc/debian_version') &&
    typeof process.getuid === 'function' &&
    process.getuid() === 0 &&
    process.env.MOMENTUM_SSL_NO_APT !== '1' &&
    have('apt-get')
  );
}

function aptInstall(pkgs) {
  log(`installing Debian packages ${pkgs.join(' ')} (set MOMENTUM_SSL_NO_APT=1 to forbid this)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update', '-qq'], { env }) !== 0) return false;
  return run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env }) === 0;
}

/** Debian packages the install step adds beside LibTorch: the fast BLAS LibTorch calls (README). */
const BLAS_PACKAGE = 'libopenblas0-openmp';
/** Written beside a source build: the loader prefers a build made here over the prebuild. */
const BUILD_RECORD = path.join(root, 'build', 'Release', 'momentum_ssl.build.json');

function loadsInChild(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { stdio: 'pipe', timeout: 120000 });
  return r.status === 0 ? null : String(r.stderr).split('\n').find((l) => /error|cannot|not found|undefined/i.test(l)) || `exit ${r.status}`;
}

/** Uses the shipped prebuild if it fits and loads; says why not otherwise. */
function usePrebuild() {
  const c = checkPrebuild(root);
  const rel = path.relative(root, c.file);
  if (!c.present) {
    log(`no prebuilt addon for ${process.platform}-${process.arch} in this package; building from source`);
    return false;
  }
  if (!c.ok) {
    log(`the prebuilt ${rel} cannot be used (${c.why}); building from source`);
    return false;
  }
  const lt = c.manifest.libtorch;
  if (c.missing.length && canApt()) aptInstall([lt.package, BLAS_PACKAGE]);
  const err = loadsInChild(c.file);
  if (err === null) {
    log(`using the prebuilt ${rel} (LibTorch ${lt.version} from ${lt.package}, N-API ${c.manifest.napiVersion}); nothing to compile`);
    return true;
  }
  log(`the prebuilt ${rel} does not load here (${err}${c.missing.length ? `; missing ${c.missing.join(', ')}: apt-get install ${lt.package}` : ''}); building from source`);
  return false;
}

/** The LibTorch the user picked explicitly: then the prebuild (Debian's LibTorch) is not what they want. */
function explicitTorch(env = process.env) {
  return ['LIBTORCH', 'Torch_DIR'].find((k) => env[k]) || (env.MOMENTUM_SSL_CUDA === '1' && 'MOMENTUM_SSL_CUDA') || (env.MOMENTUM_SSL_PYTHON_TORCH === '1' && 'MOMENTUM_SSL_PYTHON_TORCH') || null;
}

/** MOMENTUM_SSL_BUILD_FROM_SOURCE=1, or npm's --build-from-source (an unknown config to npm 11, passed on as npm_config_*). */
function fromSourceAsked(env = process.env) {
  if (env.MOMENTUM_SSL_BUILD_FROM_SOURCE === '1') return 'MOMENTUM_SSL_BUILD_FROM_SOURCE=1';
  return env.npm_config_build_from_source === 'true' ? '--build-from-source' : null;
}

/** A development tree (the tests and benchmarks are there; the npm package ships neither). */
function isCheckout() {
  return fs.existsSync(path.join(root, 'test', 'native', 'main.cc'));
}

/**
 * Builds build/Release/momentum_ssl.node with cmake-js; returns the exit status. With
 * `prebuildFallback`, no LibTorch to build against is not an install failure when an intact
 * prebuild ships: it loads once libtorch1.13 is installed (the loader checks again at require).
 */
function buildFromSource({ force = false, prebuildFallback = false } = {}) {
  let torch = resolveLibTorch();
  if (!torch.ok && canApt()) {
    // libgloo-dev: the headers of c10d's CPU backend (data-parallel training, design §9).
    aptInstall(['libtorch-dev', 'libgloo-dev', BLAS_PACKAGE]);
    torch = resolveLibTorch();
  }
  if (!torch.ok) {
    const prebuilt = checkPrebuild(root);
    const alt = prebuilt.present && prebuilt.ok ? `\nOr use the prebuilt addon in this package: sudo apt-get install ${prebuilt.manifest.libtorch.package} (runtime only, no compiler).\n` : '';
    process.stderr.write(`\nmomentum-ssl: LibTorch was not found. Tried:\n  ${torch.tried.join('\n  ')}\n\n${helpText()}\n${alt}\n`);
    return alt && prebuildFallback ? 0 : 1;
  }
  log(`LibTorch ${torch.version} from ${torch.source} (${torch.torchDir})${torch.cuda ? ' with CUDA' : ''}`);

  const missingTools = [];
  if (!have('cmake')) missingTools.push('cmake');
  if (!have('c++') && !have('g++')) missingTools.push('g++');
  if (missingTools.length && canApt()) aptInstall(missingTools);
  for (const t of missingTools) {
    if (!have(t === 'g++' ? 'c++' : t)) {
      process.stderr.write(`momentum-ssl: '${t}' is needed to build the addon; install it (Debian: apt-get install ${t})\n`);
      return 1;
    }
  }

  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = process.env.MOMENTUM_SSL_JOBS || String(Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
  const args = [cmakeJs, 'compile', '--parallel', jobs];
  if (process.env.MOMENTUM_SSL_DEBUG === '1') args.push('--debug');
  if (have('ccache')) args.push('--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache');
  // In a checkout also build the plain C++ tests of native/core and the bench addon.
  if (isCheckout()) args.push('--CDMSSL_BUILD_CORE_TESTS=ON', '--CDMSSL_BUILD_BENCH_ADDON=ON');
  // --force re-runs CMake's configure step (new options, another LibTorch), keeping object files.
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  if (force && fs.existsSync(cache)) fs.rmSync(cache);
  const status = run(process.execPath, args);
  if (status !== 0) {
    process.stderr.write('momentum-ssl: the native build failed (see above). `npm rebuild momentum-ssl` (checkout: `npm run build:native`) retries it.\n');
    return status || 1;
  }
  if (process.env.MOMENTUM_SSL_DEBUG !== '1') {
    const record = { libtorch: { version: torch.version, source: torch.source, libDir: torch.libDir, cuda: torch.cuda }, node: process.version };
    fs.writeFileSync(BUILD_RECORD, JSON.stringify(record, null, 2) + '\n');
  }
  return 0;
}

function main(argv = process.argv.slice(2)) {
  if (process.env.MOMENTUM_SSL_SKIP_BUILD === '1') {
    log('MOMENTUM_SSL_SKIP_BUILD=1: not building the native addon');
    return 0;
  }
  const force = argv.includes('--force');
  const asked = force ? '--force' : fromSourceAsked() || (isCheckout() ? 'a checkout' : explicitTorch());
  if (asked) log(`building from source (${asked})`);
  else if (usePrebuild()) return 0;
  return buildFromSource({ force, prebuildFallback: !asked });
}

module.exports = { buildFromSource, BUILD_RECORD, BLAS_PACKAGE };

if (require.main === module) process.exit(main());

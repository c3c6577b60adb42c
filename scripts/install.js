#!/usr/bin/env node
'use strict';
// npm install hook: use a matching prebuilt addon if one ships, else find LibTorch (installing
// Debian's libtorch-dev when we are root on Debian/Ubuntu and allowed to) and build with cmake-js.
// Nothing is downloaded from anywhere but Debian's archive; Node headers come from the
// node-api-headers package (package.json "binary.napi_versions"), not from the internet.
//
//   --force   rebuild even if a prebuilt or built addon exists
// Env: MOMENTUM_SSL_NO_APT=1 (never run apt-get), MOMENTUM_SSL_SKIP_BUILD=1, MOMENTUM_SSL_DEBUG=1,
//      MOMENTUM_SSL_JOBS=N (parallel compile jobs), plus the LibTorch ladder of find-libtorch.js.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { resolveLibTorch, helpText } = require('./find-libtorch');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
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

function prebuiltWorks() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const file = path.join(dir, 'momentum_ssl.node');
  if (!fs.existsSync(file)) return false;
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { stdio: 'pipe' });
  if (r.status === 0) {
    log(`using prebuilt ${path.relative(root, file)}`);
    return true;
  }
  log(`prebuilt ${path.relative(root, file)} does not load here (${String(r.stderr).split('\n')[0]}); building from source`);
  return false;
}

function main() {
  if (process.env.MOMENTUM_SSL_SKIP_BUILD === '1') {
    log('MOMENTUM_SSL_SKIP_BUILD=1: not building the native addon');
    return 0;
  }
  if (!force && prebuiltWorks()) return 0;

  let torch = resolveLibTorch();
  if (!torch.ok && canApt()) {
    aptInstall(['libtorch-dev']);
    torch = resolveLibTorch();
  }
  if (!torch.ok) {
    process.stderr.write(`\nmomentum-ssl: LibTorch was not found. Tried:\n  ${torch.tried.join('\n  ')}\n\n${helpText()}\n\n`);
    return 1;
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
  // In a checkout (tests present) also build the plain C++ tests of native/core.
  if (fs.existsSync(path.join(root, 'test', 'native', 'main.cc'))) args.push('--CDMSSL_BUILD_CORE_TESTS=ON');
  // --force re-runs CMake's configure step (new options, another LibTorch), keeping object files.
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  if (force && fs.existsSync(cache)) fs.rmSync(cache);
  const status = run(process.execPath, args);
  if (status !== 0) {
    process.stderr.write('momentum-ssl: the native build failed (see above). `npm run build:native` retries it.\n');
    return status || 1;
  }
  return 0;
}

process.exit(main());

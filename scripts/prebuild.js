#!/usr/bin/env node
'use strict';
// `npm run prebuild`: the addon that ships in the npm package, prebuilds/<platform>-<arch>/
// momentum_ssl.node, built against the system LibTorch of Debian 12 (libtorch-dev; at run time
// the runtime package libtorch1.13 suffices) for generic x86-64 / aarch64 (the EMA kernel's
// AVX2/AVX-512 clones are picked at load), and momentum_ssl.json beside it (what
// scripts/prebuild-match.js checks at install and at require time).
//
// It builds in build/ like `npm run build:native` (incremental), refuses anything but a CPU
// LibTorch in a default library folder, checks the result (versioned LibTorch SONAMEs in NEEDED,
// no RUNPATH, no bench entry points, loads and answers info()) and copies it, stripped.
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const { resolveLibTorch } = require('./find-libtorch');
const { buildFromSource } = require('./install');
const { ADDON, MANIFEST, prebuildDir, sha256, multiarch } = require('./prebuild-match');

const root = path.resolve(__dirname, '..');
const log = (msg) => process.stdout.write(`prebuild: ${msg}\n`);
const fail = (msg) => {
  process.stderr.write(`prebuild: ${msg}\n`);
  process.exit(1);
};
const TORCH_LIB = /^lib(torch|torch_cpu|torch_cuda|c10|c10_cuda)\.so/;

function readelf(args, file) {
  return execFileSync('readelf', [...args, file], { encoding: 'utf8' });
}

function debianPackageOf(file) {
  try {
    return execFileSync('dpkg', ['-S', fs.realpathSync(file)], { encoding: 'utf8' }).split(':')[0].trim();
  } catch {
    return null;
  }
}

function osName() {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))[1];
  } catch {
    return process.platform;
  }
}

function main() {
  if (process.platform !== 'linux') fail(`prebuilds are made on Linux (this is ${process.platform})`);
  for (const k of ['LIBTORCH', 'Torch_DIR', 'MOMENTUM_SSL_CUDA', 'MOMENTUM_SSL_PYTHON_TORCH', 'MOMENTUM_SSL_DEBUG']) {
    if (process.env[k]) fail(`${k} is set: a prebuild is made against the system LibTorch only (unset it)`);
  }
  const torch = resolveLibTorch();
  const systemDir = `/usr/lib/${multiarch()}`;
  if (!torch.ok) fail(`no LibTorch found (apt-get install libtorch-dev). Tried: ${torch.tried.join('; ')}`);
  if (torch.source !== 'system' || torch.libDir !== systemDir || torch.cuda) {
    fail(`LibTorch ${torch.version} from ${torch.source} (${torch.libDir}${torch.cuda ? ', CUDA' : ''}) is not Debian's CPU LibTorch in ${systemDir}; a prebuild must need only what apt-get install libtorch1.13 gives`);
  }
  log(`LibTorch ${torch.version} from ${torch.libDir}`);
  const status = buildFromSource({ force: true });
  if (status !== 0) fail('the build failed (see above)');

  const built = path.join(root, 'build', 'Release', ADDON);
  const dyn = readelf(['-d'], built);
  const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const runpath = /\((RUNPATH|RPATH)\)\s+Library r(un)?path: \[([^\]]*)\]/.exec(dyn);
  const torchLibs = needed.filter((n) => TORCH_LIB.test(n));
  const unversioned = torchLibs.filter((n) => !/\.so\.\d+\.\d+$/.test(n));
  if (torchLibs.length === 0) fail(`${built} needs no LibTorch library (NEEDED: ${needed.join(', ')})`);
  if (unversioned.length) fail(`${built} needs unversioned LibTorch libraries ${unversioned.join(', ')} (only libtorch-dev has those)`);
  if (torchLibs.some((n) => /cuda/.test(n))) fail(`${built} needs CUDA libraries (${torchLibs.join(', ')})`);
  if (runpath) fail(`${built} has ${runpath[1]} ${runpath[3]}: a prebuild must rely on the default library path only`);

  // Loads, answers, and has no bench entry points (those live in momentum_ssl_bench.node).
  const probe = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(built)}); console.log(JSON.stringify({ info: b.info(), bench: Object.keys(b).filter((k) => /^bench/.test(k)) }))`], { encoding: 'utf8' });
  if (probe.status !== 0) fail(`${built} does not load: ${probe.stderr}`);
  const { info, bench } = JSON.parse(probe.stdout.trim().split('\n').pop());
  if (bench.length) fail(`${built} exports bench entry points ${bench.join(', ')}`);

  const dir = prebuildDir(root);
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, ADDON);
  fs.copyFileSync(built, out);
  if (spawnSync('strip', ['--strip-unneeded', out]).status !== 0) log('strip failed; shipping the unstripped addon');
  const glibcNeeds = [...readelf(['-V'], out).matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]);
  const cmp = (a, b) => {
    const [x, y] = [a, b].map((v) => v.split('.').map(Number));
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
    return 0;
  };
  const maxVersion = (vs) => vs.sort(cmp).pop();
  const comment = (/GCC: \(([^)]*)\) (\S+)/.exec(readelf(['-p', '.comment'], out)) || []).slice(1);
  const pkg = debianPackageOf(path.join(torch.libDir, torchLibs[0])) || `libtorch${torch.version.split('.').slice(0, 2).join('.')}`;
  const napiVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).binary.napi_versions[0];
  const manifest = {
    file: ADDON,
    platform: process.platform,
    arch: process.arch,
    size: fs.statSync(out).size,
    sha256: sha256(out),
    napiVersion,
    libtorch: { version: info.torchVersion, package: pkg, sonames: torchLibs, cuda: false, cxx11abi: torch.cxx11abi },
    needed,
    glibc: { requires: maxVersion(glibcNeeds), builtOn: process.report.getReport().header.glibcVersionRuntime },
    compiler: comment.length ? `g++ ${comment[1]} (${comment[0]})` : 'unknown',
    cpu: process.arch === 'x64' ? 'generic x86-64 (EMA AVX2/AVX-512 clones picked at load)' : `generic ${process.arch}`,
    builtOn: osName(),
    builtWith: `node ${process.version}`,
  };
  fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  log(`wrote ${path.relative(root, out)} (${(manifest.size / 1e6).toFixed(2)} MB) and ${MANIFEST}: needs ${torchLibs.join(', ')} (${pkg}), glibc ≥ ${manifest.glibc.requires}, N-API ${napiVersion}`);
}

main();

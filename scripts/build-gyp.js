#!/usr/bin/env node
'use strict';
// Builds the addon with node-gyp instead of cmake-js, in a scratch copy so the primary build/
// stays intact, then loads it and prints info(). Node headers: --nodedir from npm's config,
// else the running Node's own install (node-gyp would otherwise try to download them).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');

function nodeDir() {
  const cands = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local'];
  const hit = cands.filter(Boolean).find((d) => fs.existsSync(path.join(d, 'include', 'node', 'node.h')) && fs.existsSync(path.join(d, 'include', 'node', 'common.gypi')));
  if (!hit) {
    console.error('build-gyp: Node headers not found (looked for include/node/node.h and common.gypi next to this Node). Set npm_config_nodedir.');
    process.exit(1);
  }
  return hit;
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-gyp-'));
for (const item of ['package.json', 'binding.gyp', 'native', 'scripts']) fs.cpSync(path.join(root, item), path.join(out, item), { recursive: true });
fs.symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const jobs = process.env.MOMENTUM_SSL_JOBS || String(os.availableParallelism ? os.availableParallelism() : os.cpus().length);
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodeDir()}`, '-j', jobs], { cwd: out, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status || 1);
const addon = path.join(out, 'build', 'Release', 'momentum_ssl.node');
const check = spawnSync(process.execPath, ['-e', `const b=require(${JSON.stringify(addon)}); console.log(JSON.stringify(b.info()))`], { encoding: 'utf8' });
if (check.status !== 0) {
  console.error(`build-gyp: built ${addon} but it does not load:\n${check.stderr}`);
  process.exit(1);
}
console.log(`build-gyp: OK ${addon} ${check.stdout.trim()}`);

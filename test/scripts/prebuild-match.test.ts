// scripts/prebuild-match.js: whether the shipped prebuild fits this machine, without dlopen.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { binding, loadedAddon } from '../../lib/native';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const match = require('../../scripts/prebuild-match.js');

function addonFile(): string {
  binding();
  return loadedAddon()!.file;
}

/** A package root holding `bytes` as the prebuild for `arch`, with a manifest that matches them. */
function root(bytes: Buffer, arch: string = process.arch, manifest: object = {}): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-pb-'));
  const dir = match.prebuildDir(r, process.platform, arch);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, match.ADDON);
  fs.writeFileSync(file, bytes);
  const m = { size: bytes.length, sha256: match.sha256(file), napiVersion: 8, libtorch: { version: '1.13.0', package: 'libtorch1.13', sonames: ['libtorch.so.1.13', 'libc10.so.1.13'] }, ...manifest };
  fs.writeFileSync(path.join(dir, match.MANIFEST), JSON.stringify(m));
  return r;
}

describe('checkPrebuild', () => {
  test('no prebuild for this platform-arch: not present (the loader moves on)', () => {
    const r = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-pb-'));
    expect(match.checkPrebuild(r)).toMatchObject({ present: false });
  });

  test('an intact prebuild whose LibTorch is installed: ok, nothing missing', () => {
    const c = match.checkPrebuild(root(fs.readFileSync(addonFile())));
    expect(c).toMatchObject({ present: true, ok: true, missing: [] });
  });

  test('its SONAMEs absent: ok (intact) but missing, and the LibTorch that is there', () => {
    const c = match.checkPrebuild(root(fs.readFileSync(addonFile()), process.arch, { libtorch: { version: '9.99.0', package: 'libtorch9.99', sonames: ['libtorch.so.9.99'] } }));
    expect(c.ok).toBe(true);
    expect(c.missing).toEqual(['libtorch.so.9.99']);
    expect(c.others.join(' ')).toMatch(/^1\.13 \(\/.*libtorch_cpu\.so\.1\.13\)$/);
  });

  test('a newer N-API than this Node has: abi-mismatch', () => {
    const c = match.checkPrebuild(root(fs.readFileSync(addonFile()), process.arch, { napiVersion: 999 }));
    expect(c).toMatchObject({ ok: false, reason: 'abi-mismatch' });
    expect(c.why).toMatch(/needs N-API 999; this Node has N-API \d+/);
  });

  test('the folder of another arch holding this arch\'s file: wrong-arch', () => {
    const other = process.arch === 'arm64' ? 'x64' : 'arm64';
    const c = match.checkPrebuild(root(fs.readFileSync(addonFile()), other), { arch: other });
    expect(c).toMatchObject({ ok: false, reason: 'wrong-arch' });
  });

  test('no manifest: corrupt, names the file', () => {
    const r = root(fs.readFileSync(addonFile()));
    fs.rmSync(path.join(match.prebuildDir(r), match.MANIFEST));
    const c = match.checkPrebuild(r);
    expect(c).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(c.why).toMatch(/momentum_ssl\.json is missing or not JSON/);
  });

  test('elfCheck: not an ELF file, an empty one', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-pb-'));
    fs.writeFileSync(path.join(d, 'a.node'), '#!/bin/sh\necho not a library\n');
    fs.writeFileSync(path.join(d, 'b.node'), '');
    expect(match.elfCheck(path.join(d, 'a.node'))).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(match.elfCheck(path.join(d, 'b.node')).why).toMatch(/no ELF header; 0 bytes/);
  });
});

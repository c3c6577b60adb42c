// The loader (lib/loader.ts) explains a failed load: addon not built, LibTorch missing or of another
// version, ABI mismatch, another architecture, a damaged file; never a crash.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { addonCandidates, explainLoadFailure, loadAddon, NativeLoadError, WAYS_OUT } from '../../lib/loader';
import { binding, loadedAddon } from '../../lib/native';
import { runNode, libPath } from '../helpers/child';

const L = JSON.stringify(libPath);

describe('native loader', () => {
  test('addon not built: says so and how to build', () => {
    const missing = path.join(os.tmpdir(), 'no-such-dir', 'momentum_ssl.node');
    const r = runNode(`try { require(${L}).info(); } catch (e) { console.log(JSON.stringify({ name: e.name, reason: e.reason, message: e.message })); }`, {
      env: { MOMENTUM_SSL_ADDON: missing },
    });
    expect(r.status).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.name).toBe('NativeLoadError');
    expect(e.reason).toBe('not-built');
    expect(e.message).toContain(missing);
    expect(e.message).toMatch(/npm rebuild momentum-ssl/);
  });

  test('a file that is not an addon: corrupt, names the path and the fix', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-'));
    const fake = path.join(dir, 'momentum_ssl.node');
    fs.writeFileSync(fake, 'not an ELF file');
    const r = runNode(`try { require(${L}).info(); } catch (e) { console.log(JSON.stringify({ reason: e.reason, message: e.message })); }`, {
      env: { MOMENTUM_SSL_ADDON: fake },
    });
    const e = JSON.parse(r.stdout);
    expect(e.reason).toBe('corrupt');
    expect(e.message).toContain(fake);
    expect(e.message).toMatch(/not a shared library/);
    expect(e.message).toMatch(/npm rebuild momentum-ssl/);
  });

  test('classifies loader messages', () => {
    const p = '/x/momentum_ssl.node';
    expect(explainLoadFailure(new Error('libtorch_cpu.so: cannot open shared object file: No such file or directory'), p).reason).toBe('libtorch-missing');
    expect(explainLoadFailure(new Error('/x/momentum_ssl.node: undefined symbol: _ZN3c106detail14torchCheckFailEPKcS2_jRKSs'), p).reason).toBe('abi-mismatch');
    expect(explainLoadFailure(new Error("/lib/libstdc++.so.6: version `GLIBCXX_3.4.32' not found"), p).reason).toBe('abi-mismatch');
    expect(explainLoadFailure(new Error('was compiled against a different Node.js version using NODE_MODULE_VERSION 108'), p).reason).toBe('abi-mismatch');
    expect(explainLoadFailure(new Error('addon file not found'), null).reason).toBe('not-built');
  });

  test('MOMENTUM_SSL_ADDON overrides the search path', () => {
    expect(addonCandidates({ MOMENTUM_SSL_ADDON: '/a/b.node' })).toEqual(['/a/b.node']);
  });

  test('order: a source build made here, then the prebuild, then build/', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-root-'));
    const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'momentum_ssl.node');
    const release = path.join(root, 'build', 'Release', 'momentum_ssl.node');
    expect(addonCandidates({}, root).slice(0, 2)).toEqual([prebuild, release]);
    fs.mkdirSync(path.dirname(release), { recursive: true });
    fs.writeFileSync(path.join(root, 'build', 'Release', 'momentum_ssl.build.json'), '{}');
    expect(addonCandidates({}, root).slice(0, 2)).toEqual([release, prebuild]);
  });

  // Real case: hide LibTorch from the dynamic loader in a private mount namespace.
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const canUnshare = isRoot && spawnSync('unshare', ['-m', 'true']).status === 0;
  (canUnshare ? test : test.skip)('LibTorch made unfindable: guidance names LibTorch and the fix', () => {
    const addon = addonCandidates().find((p) => fs.existsSync(p))!;
    const ldd = execFileSync('ldd', [addon], { encoding: 'utf8' });
    const lib = /libtorch_cpu\.so[^\s]* => (\S+)/.exec(ldd)![1];
    const real = fs.realpathSync(lib);
    const code = `try { require(${L}).info(); console.log('LOADED'); } catch (e) { console.log(JSON.stringify({ reason: e.reason, message: e.message })); }`;
    const r = runNode(code, {
      wrap: (argv) => ['unshare', ['-m', 'sh', '-c', `mount --bind /dev/null '${real}' && exec "$@"`, 'sh', ...argv]],
    });
    expect(r.stdout).not.toContain('LOADED');
    const e = JSON.parse(r.stdout);
    expect(e.reason).toBe('libtorch-missing');
    expect(e.message).toMatch(/LibTorch could not be loaded \(libtorch_cpu\.so/);
    expect(e.message).toMatch(/apt-get install libtorch-dev/);
    expect(e.message).toMatch(/LIBTORCH/);
  });

  // Bad input, in this process: each is refused before or by dlopen with a reason, never a crash.
  const real = () => {
    binding();
    return loadedAddon()!.file;
  };
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-load-'));
  const failure = (fn: () => unknown): NativeLoadError => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(NativeLoadError);
      expect((e as Error).message).toContain(WAYS_OUT);
      return e as NativeLoadError;
    }
    throw new Error('expected a NativeLoadError');
  };
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { sha256 } = require('../../scripts/prebuild-match.js');
  /** A package root whose prebuild is `bytes`, with a manifest that matches them. */
  const withPrebuild = (bytes: Buffer, manifest: object = {}): { root: string; file: string } => {
    const root = tmp();
    const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'momentum_ssl.node');
    fs.writeFileSync(file, bytes);
    const m = { size: bytes.length, sha256: sha256(file), napiVersion: 8, libtorch: { version: '1.13.0', package: 'libtorch1.13', sonames: ['libtorch.so.1.13'] }, ...manifest };
    fs.writeFileSync(path.join(dir, 'momentum_ssl.json'), JSON.stringify(m));
    return { root, file };
  };

  test('MOMENTUM_SSL_ADDON pointing at nothing: not-built, says so', () => {
    const e = failure(() => loadAddon({ MOMENTUM_SSL_ADDON: '/nonexistent/x.node' }));
    expect(e.reason).toBe('not-built');
    expect(e.message).toMatch(/MOMENTUM_SSL_ADDON=\/nonexistent\/x\.node points at nothing/);
  });

  test('an addon for another architecture: wrong-arch', () => {
    const bytes = fs.readFileSync(real());
    bytes.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18); // e_machine
    const f = path.join(tmp(), 'momentum_ssl.node');
    fs.writeFileSync(f, bytes);
    const e = failure(() => loadAddon({ MOMENTUM_SSL_ADDON: f }));
    expect(e.reason).toBe('wrong-arch');
    expect(e.message).toMatch(new RegExp(`built for ${process.arch === 'arm64' ? 'x64' : 'arm64'}, this Node is ${process.arch}`));
  });

  test('a truncated addon: corrupt, with the sizes', () => {
    const f = path.join(tmp(), 'momentum_ssl.node');
    fs.writeFileSync(f, fs.readFileSync(real()).subarray(0, 65536));
    const e = failure(() => loadAddon({ MOMENTUM_SSL_ADDON: f }));
    expect(e.reason).toBe('corrupt');
    expect(e.message).toMatch(/is truncated \(65536 bytes/);
  });

  test('a damaged prebuild (bytes changed, size kept): corrupt, from its manifest', () => {
    const bytes = fs.readFileSync(real());
    const { root, file } = withPrebuild(bytes);
    const damaged = Buffer.from(bytes);
    damaged.write('garbage!', 4096);
    fs.writeFileSync(file, damaged);
    const e = failure(() => loadAddon({}, root));
    expect(e.reason).toBe('corrupt');
    expect(e.attempts[0]).toMatchObject({ kind: 'prebuild', file });
    expect(e.message).toMatch(/does not match its manifest/);
  });

  test('a prebuild for another LibTorch than the one installed: libtorch-missing, names both', () => {
    // The real addon with its NEEDED libtorch.so.1.13 renamed: what a prebuild for LibTorch 9.99
    // looks like on a machine that has 1.13.
    const bytes = fs.readFileSync(real());
    const at = bytes.indexOf('libtorch.so.1.13\0');
    expect(at).toBeGreaterThan(0);
    bytes.write('libtorch.so.9.99', at);
    const { root } = withPrebuild(bytes, { libtorch: { version: '9.99.0', package: 'libtorch9.99', sonames: ['libtorch.so.9.99'] } });
    const e = failure(() => loadAddon({}, root));
    expect(e.reason).toBe('libtorch-missing');
    expect(e.message).toMatch(/needs LibTorch 9\.99\.0 \(libtorch\.so\.9\.99 from Debian's libtorch9\.99\), not found/);
    expect(e.message).toMatch(/this system has LibTorch 1\.13 \(/);
    expect(e.message).toMatch(/apt-get install libtorch1\.13/);
    expect(e.message).toMatch(/npm rebuild momentum-ssl/);
    expect(e.message).toMatch(/npm approve-scripts momentum-ssl/);
  });

  test('loadedAddon names the file and the kind of candidate', () => {
    real();
    const l = loadedAddon()!;
    expect(fs.existsSync(l.file)).toBe(true);
    expect(['env', 'source-build', 'prebuild', 'build']).toContain(l.kind);
  });
});

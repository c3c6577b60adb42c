// The loader explains a failed load: addon not built, LibTorch missing, ABI mismatch.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { explainLoadFailure, addonCandidates } from '../../lib/native';
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

  test('a file that is not an addon: unknown failure, still names the path and the fix', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mssl-'));
    const fake = path.join(dir, 'momentum_ssl.node');
    fs.writeFileSync(fake, 'not an ELF file');
    const r = runNode(`try { require(${L}).info(); } catch (e) { console.log(JSON.stringify({ reason: e.reason, message: e.message })); }`, {
      env: { MOMENTUM_SSL_ADDON: fake },
    });
    const e = JSON.parse(r.stdout);
    expect(e.reason).toBe('unknown');
    expect(e.message).toContain(fake);
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
    expect(addonCandidates({})[0]).toMatch(/build[\\/]Release[\\/]momentum_ssl\.node$/);
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
});

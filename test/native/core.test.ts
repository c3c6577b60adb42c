// Runs the plain C++ tests of native/core (built next to the addon in a checkout) under jest so
// that `npm test` covers them; the same executable runs alone on a GPU box without Node.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const exe = [path.join(root, 'build', 'mssl_core_tests'), path.join(root, 'build', 'Release', 'mssl_core_tests')].find((p) => fs.existsSync(p));

describe('native/core C++ tests', () => {
  test('build/mssl_core_tests is built (npm ci / npm run build:native in a checkout)', () => {
    expect(exe).toBeDefined();
  });
  (exe ? test : test.skip)('all pass', () => {
    const r = spawnSync(exe!, [], { encoding: 'utf8', timeout: 600000 });
    const failures = r.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures).toEqual([]);
    expect(r.stdout).toMatch(/\d+ passed, 0 failed/);
    expect(r.status).toBe(0);
  });
});

// The loader's OMP_WAIT_POLICY default (lib/ompPolicy.ts): PASSIVE unless the user chose.
import { execFileSync } from 'child_process';
import * as path from 'path';

import { applyOmpWaitPolicy } from '../../lib/ompPolicy';

describe('applyOmpWaitPolicy', () => {
  it('sets PASSIVE when nothing is set', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(applyOmpWaitPolicy(env)).toBe('PASSIVE');
    expect(env.OMP_WAIT_POLICY).toBe('PASSIVE');
  });

  it("keeps the user's OMP_WAIT_POLICY", () => {
    const env: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'active' };
    expect(applyOmpWaitPolicy(env)).toBe('active');
    expect(env.OMP_WAIT_POLICY).toBe('active');
  });

  it('leaves libgomp its default with MOMENTUM_SSL_OMP_WAIT_POLICY=default, and validates the value', () => {
    const env: NodeJS.ProcessEnv = { MOMENTUM_SSL_OMP_WAIT_POLICY: 'default' };
    expect(applyOmpWaitPolicy(env)).toBe('(libgomp default)');
    expect(env.OMP_WAIT_POLICY).toBeUndefined();
    expect(applyOmpWaitPolicy({ MOMENTUM_SSL_OMP_WAIT_POLICY: 'active' })).toBe('ACTIVE');
    expect(() => applyOmpWaitPolicy({ MOMENTUM_SSL_OMP_WAIT_POLICY: 'spin' })).toThrow(RangeError);
  });

  it('is applied by the loader before the addon loads, in the C environment libgomp reads', () => {
    // A fresh process without OMP_WAIT_POLICY: binding() sets it (Node writes process.env through
    // to the C environment, where libgomp reads it when the addon pulls it in); a child shows it.
    const env = { ...process.env };
    delete env.OMP_WAIT_POLICY;
    delete env.MOMENTUM_SSL_OMP_WAIT_POLICY;
    const root = path.resolve(__dirname, '..', '..');
    const code =
      "require('./lib/native').binding(); process.stdout.write(require('child_process').execSync('printenv OMP_WAIT_POLICY').toString().trim())";
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], { cwd: root, env, encoding: 'utf8' });
    expect(out).toBe('PASSIVE');
  });
});

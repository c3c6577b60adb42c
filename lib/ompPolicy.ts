// libgomp's wait policy for LibTorch's OpenMP threads, chosen before the addon (and with it
// libgomp, which reads OMP_WAIT_POLICY once when it loads) is first required.
//
// Measured (README benchmarks, "OMP_WAIT_POLICY" rows; `npm run bench -- --only ompPolicy`): with
// libgomp's default (spin, then sleep) a training step next to one CPU-bound process on two cores
// ran several times slower than with PASSIVE, because each barrier spins on a core the other
// process needs; on an otherwise idle machine the two policies were within noise. So the
// package defaults to PASSIVE. A user's own OMP_WAIT_POLICY always wins;
// MOMENTUM_SSL_OMP_WAIT_POLICY=default keeps libgomp's default instead.

/** What the process will run with: the user's value, 'PASSIVE' (ours), or '(libgomp default)'. */
export function applyOmpWaitPolicy(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.OMP_WAIT_POLICY;
  if (own !== undefined && own !== '') return own;
  const choice = env.MOMENTUM_SSL_OMP_WAIT_POLICY ?? 'PASSIVE';
  if (choice.toLowerCase() === 'default') return '(libgomp default)';
  if (!/^(PASSIVE|ACTIVE)$/i.test(choice)) {
    throw new RangeError(`MOMENTUM_SSL_OMP_WAIT_POLICY must be PASSIVE, ACTIVE or default, got '${choice}'`);
  }
  // Node's process.env writes through to the C environment that libgomp's getenv reads.
  env.OMP_WAIT_POLICY = choice.toUpperCase();
  return env.OMP_WAIT_POLICY;
}

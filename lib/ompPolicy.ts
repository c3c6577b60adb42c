// libgomp's wait policy for LibTorch's OpenMP threads, chosen before the addon (and with it
// libgomp, which reads OMP_WAIT_POLICY once when it loads) is first required.
//
// Measured (README benchmarks, "OMP_WAIT_POLICY" rows; `npm run bench -- --only ompPolicy`), our
// B 256 step on 2 cores, the two policies alternated in one run: PASSIVE took 0.24–0.47× the time
// of libgomp's default (spin, then sleep) on the shared machine as it was (load average 6–12, two
// runs), and 0.20–0.24× beside one extra CPU-bound process (e.g. 3.1 s vs 12.7 s per step): every
// barrier spins on a core another process needs. No quiet machine was available to measure (there PASSIVE's expected
// cost is a thread wake-up per parallel region). So the package defaults to PASSIVE. A user's own
// OMP_WAIT_POLICY always wins; MOMENTUM_SSL_OMP_WAIT_POLICY=default keeps libgomp's default.

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

// Error classes shared across the package. Native validation errors arrive as TypeError /
// RangeError with the field named; front ends map ConfigError and those to usage errors.

/** A bad option or config (a usage error for front ends; the CLI exits 2). */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** TypeError / RangeError (a config rejected by validation) become ConfigError; others pass through. */
export function asConfigError(e: unknown): Error {
  if (e instanceof ConfigError) return e;
  const err = e as Error & { code?: string };
  if (err && (err.name === 'TypeError' || err.name === 'RangeError')) return new ConfigError(err.message, { cause: e });
  return err;
}

/** An integer option >= min, or a ConfigError naming it. */
export function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** An I/O failure as the native side reports it: code ERR_IO, the errno name and the path. */
export interface IoErrorFields {
  code: 'ERR_IO';
  errno: string;
  path: string;
}

/** Wraps a Node fs error into an ERR_IO Error naming the operation, the path and the errno. */
export function ioError(op: string, file: string, e: unknown): Error & IoErrorFields {
  const cause = e as NodeJS.ErrnoException;
  const errno = typeof cause?.code === 'string' ? cause.code : 'EIO';
  const err = new Error(`${op} '${file}': ${errno} (${cause?.message ?? String(e)})`, { cause: e }) as Error & IoErrorFields;
  err.code = 'ERR_IO';
  err.errno = errno;
  err.path = file;
  return err;
}

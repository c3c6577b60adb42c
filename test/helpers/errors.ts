// Errors and typed arrays made by the addon belong to Node's main realm, not jest's sandbox, so
// `instanceof` fails across the boundary; tests compare names and type tags instead.
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the call to throw');
}

export function typeTag(x: unknown): string {
  return Object.prototype.toString.call(x);
}

/** Asserts that fn throws an error of this name whose message matches. */
export function expectThrows(fn: () => unknown, name: 'TypeError' | 'RangeError' | 'Error', message: RegExp): void {
  const err = thrown(fn);
  expect(err.name).toBe(name);
  expect(err.message).toMatch(message);
}

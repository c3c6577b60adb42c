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

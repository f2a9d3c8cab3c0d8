// Waiting for a condition the cluster reaches on its own time: the tests, the benchmark and the
// chaos harness all poll the apiserver this way.

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined, and returns it.
 * A check that throws counts as "not yet"; past `timeoutMs` the wait fails with the last error.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

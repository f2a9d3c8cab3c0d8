// Retrying a call to the apiserver that failed in a way worth trying again.
import { ApiError, NetworkError } from "./transport.ts";
import { Backoff } from "../util/backoff.ts";
import { sleep } from "../util/sleep.ts";

/** Worth asking again: no answer, throttled (429), or a server-side failure (5xx). */
export function isTransient(err: unknown): boolean {
  return err instanceof NetworkError || (err instanceof ApiError && (err.status === 429 || err.status >= 500));
}

/** Runs `fn`, again after a backoff when it fails transiently, at most `attempts` times; other errors at once. */
export async function retrying<T>(fn: () => Promise<T>, attempts = 5, backoff = new Backoff(200, 5_000)): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      await sleep(backoff.next());
    }
  }
}

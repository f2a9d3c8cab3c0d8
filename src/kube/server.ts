import type { Logger } from "../log.ts";
import { Backoff } from "../util/backoff.ts";
import { sleep } from "../util/sleep.ts";
import type { KubeApi } from "./api.ts";
import { ApiError, TlsVerificationError } from "./transport.ts";
import { messageOf } from "../util/errors.ts";

/**
 * Waits until the apiserver answers GET /version. Network trouble and server errors are retried
 * with backoff; a certificate that does not verify or credentials that are refused are fatal,
 * because waiting will not fix them. Returns the server's version, or undefined if `signal` aborted.
 */
export async function waitForServer(api: KubeApi, log: Logger, signal: AbortSignal): Promise<string | undefined> {
  const backoff = new Backoff(500, 30_000);
  while (!signal.aborted) {
    try {
      return await api.serverVersion(signal);
    } catch (err) {
      if (signal.aborted) return undefined;
      if (err instanceof TlsVerificationError) throw err;
      if (err instanceof ApiError && err.status === 401) {
        throw new Error(
          `the apiserver ${api.transport.connection.server} refused the credentials from ${api.transport.connection.source} (401 ` +
            `Unauthorized)`,
        );
      }
      const delay = backoff.next();
      log.warn(
        `Cannot reach the apiserver ${api.transport.connection.server}: ${messageOf(err)}; retrying in ${(delay / 1000).toFixed(1)}s`,
      );
      await sleep(delay, signal);
    }
  }
  return undefined;
}

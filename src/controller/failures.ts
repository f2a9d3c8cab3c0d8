// What happens when reconciling a workload fails: the work queue retries it with backoff; this
// decides what a person hears about it.
import { splitWorkloadKey, type World } from "../access/membership.ts";
import { NotLeaderError } from "../kube/lease.ts";
import type { Logger } from "../log.ts";
import { Reasons, type EventRecorder } from "./events.ts";
import { about, LogReasons } from "./log-fields.ts";
import { involved } from "./events.ts";
import { ForeignObjectError, RoleWriteRefusedError, StaleCacheError } from "./reconciler.ts";
import { messageOf } from "../util/errors.ts";

/**
 * Reports a failed reconcile, once per failure. Conflicts and refused writes were already
 * reported by the reconciler with a Warning Event; a cache that was behind and a write stopped by
 * the leader's fence are no failure of the workload. Anything else gets a warning line and a
 * SyncFailed Event.
 */
export function reportFailure(world: World, events: Pick<EventRecorder, "warn">, log: Logger) {
  return (key: string, err: unknown, retryInMs: number, failures: number): void => {
    const retry = `retrying in ${(retryInMs / 1000).toFixed(1)}s (attempt ${failures})`;
    const workload = splitWorkloadKey(key);
    const fields = (reason: string) => about(workload, reason, { attempt: failures });
    if (err instanceof ForeignObjectError || err instanceof RoleWriteRefusedError) {
      log.debug(
        `${key}: ${err.message}; ${retry}`,
        fields(err instanceof ForeignObjectError ? LogReasons.NameConflict : LogReasons.RoleWriteRefused),
      );
      return;
    }
    if (err instanceof StaleCacheError) {
      log.debug(`${key}: ${err.message}; ${retry}`, fields(LogReasons.StaleCache));
      return;
    }
    if (err instanceof NotLeaderError) {
      log.debug(`${key} not written: ${err.message}; ${retry}`, fields(LogReasons.NotLeader));
      return;
    }
    const message = messageOf(err);
    log.warn(`Reconciling ${key} failed: ${message}; ${retry}`, fields(LogReasons.SyncFailed));
    const { kind, namespace, name } = workload;
    const w = world.get(kind, namespace, name);
    if (w) void events.warn(involved(w), Reasons.SyncFailed, `${message.slice(0, 900)}; retrying`);
  };
}

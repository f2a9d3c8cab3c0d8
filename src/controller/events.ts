import { hostname } from "node:os";
import { KINDS } from "../access/kinds.ts";
import type { Workload } from "../access/membership.ts";
import type { KubeApi } from "../kube/api.ts";
import { Events } from "../kube/resources.ts";
import { isNotFound } from "../kube/transport.ts";
import type { Logger } from "../log.ts";
import { messageOf } from "../util/errors.ts";

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** The workload an Event is recorded on. */
export function involved(workload: Pick<Workload, "kind" | "namespace" | "name" | "uid">): InvolvedObject {
  return {
    apiVersion: KINDS[workload.kind].apiVersion,
    kind: workload.kind,
    namespace: workload.namespace,
    name: workload.name,
    uid: workload.uid,
  };
}

/**
 * Stable reasons, for people and alerts that filter Events. Events mark what a person looking at
 * the workload should know: access was granted for the first time, or something is wrong. A
 * routine update of the Role (its pods changed) is a log line and a metric, not an Event.
 */
export const Reasons = {
  /** The workload's Role was created: its pods' logs can be read from now on. */
  AccessGranted: "AccessGranted",
  /** An object with podlogreader's name for this workload exists without its marks; it is left alone. */
  NameConflict: "NameConflict",
  /** Reconciling the workload failed; it is retried with backoff. */
  SyncFailed: "SyncFailed",
  /** The apiserver refused to update the Role; names of pods that left were removed first, or the Role deleted. */
  RoleWriteRefused: "RoleWriteRefused",
  /** The workload has more pods than one Role can name; the rest are not granted. */
  TooManyPods: "TooManyPods",
  /** A grant (podlogreader grant) was ended: it expired, its Role went, or its Role could not be kept from over-granting. */
  GrantEnded: "GrantEnded",
} as const;

const AGGREGATE_FOR_MS = 10 * 60_000;
/** A repeat within this long is folded into the next update of the same Event, not sent at once. */
const COALESCE_MS = 10_000;
const MAX_REMEMBERED = 5000;

interface Recorded {
  name: string;
  namespace: string;
  count: number;
  lastSent: number;
  /** Repeats not yet written, with the latest message; flushed by `timer`. */
  pending?: { count: number; message: string; timer: Timer };
}

/**
 * Records Events on workloads, aggregated like kubectl shows them: a repeat of the same reason on
 * the same object within ten minutes updates the existing Event's count, message and last time
 * instead of adding one, and repeats within ten seconds of the last update are folded into one
 * later update, so a busy workload costs at most one Event write per ten seconds. Events are best
 * effort: a failure is logged, not retried.
 */
export class EventRecorder {
  private readonly recent = new Map<string, Recorded>();
  private readonly instance = hostname();

  constructor(
    private readonly api: KubeApi,
    private readonly log: Logger,
  ) {}

  normal(on: InvolvedObject, reason: string, message: string): Promise<void> {
    return this.record(on, "Normal", reason, message);
  }

  warn(on: InvolvedObject, reason: string, message: string): Promise<void> {
    return this.record(on, "Warning", reason, message);
  }

  private async record(on: InvolvedObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const key = `${on.uid}\0${type}\0${reason}`;
    const now = Date.now();
    const time = new Date(now).toISOString();
    const previous = this.recent.get(key);
    try {
      if (previous && now - previous.lastSent < AGGREGATE_FOR_MS) {
        if (previous.pending) {
          previous.pending.count++;
          previous.pending.message = message;
          return;
        }
        if (now - previous.lastSent < COALESCE_MS) {
          const timer = setTimeout(() => void this.flush(on, reason, previous), previous.lastSent + COALESCE_MS - now);
          timer.unref?.();
          previous.pending = { count: 1, message, timer };
          return;
        }
        previous.count++;
        previous.lastSent = now;
        if (await this.update(previous, time, message)) return;
      }
      const name = `${on.name.slice(0, 200)}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
      await this.api.create(Events, on.namespace, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace: on.namespace },
        involvedObject: on,
        type,
        reason,
        message,
        source: { component: "podlogreader" },
        reportingComponent: "podlogreader",
        reportingInstance: this.instance,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      });
      this.remember(key, { name, namespace: on.namespace, count: 1, lastSent: now });
    } catch (err) {
      this.notRecorded(on, reason, err);
    }
  }

  /** Events are best effort: a failure to record one is a log line, not retried. */
  private notRecorded(on: InvolvedObject, reason: string, err: unknown): void {
    this.log.warn(`Could not record a ${reason} Event on ${on.kind} ${on.namespace}/${on.name}: ${messageOf(err)}`, {
      kind: on.kind,
      namespace: on.namespace,
      name: on.name,
      reason: "EventNotRecorded",
      event: reason,
    });
  }

  private async flush(on: InvolvedObject, reason: string, recorded: Recorded): Promise<void> {
    const pending = recorded.pending;
    if (!pending) return;
    recorded.pending = undefined;
    recorded.count += pending.count;
    recorded.lastSent = Date.now();
    try {
      await this.update(recorded, new Date(recorded.lastSent).toISOString(), pending.message);
    } catch (err) {
      this.notRecorded(on, reason, err);
    }
  }

  /** Updates the existing Event; false if it is gone (expired or deleted). */
  private async update(recorded: Recorded, time: string, message: string): Promise<boolean> {
    try {
      await this.api.mergePatch(Events, recorded.namespace, recorded.name, { count: recorded.count, lastTimestamp: time, message });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private remember(key: string, recorded: Recorded): void {
    this.recent.delete(key);
    this.recent.set(key, recorded);
    // Oldest first in insertion order; forget beyond the bound.
    for (const k of this.recent.keys()) {
      if (this.recent.size <= MAX_REMEMBERED) break;
      this.recent.delete(k);
    }
  }
}

// The fields of a log line about one workload: its kind, namespace and name, and a stable reason
// (the Event's reason where the line goes with an Event), so log pipelines can filter on them.
import type { LogFields } from "../log.ts";
import { Reasons } from "./events.ts";

/** Stable words for the `reason` field of log lines about a workload. */
export const LogReasons = {
  ...Reasons,
  /** The workload's Role was updated (a routine change of its pods: a log line, no Event). */
  RoleUpdated: "RoleUpdated",
  /** The workload's RoleBinding was created or updated. */
  RoleBindingSynced: "RoleBindingSynced",
  /** A ServiceAccount was created for the workload. */
  ServiceAccountCreated: "ServiceAccountCreated",
  /** The workload is gone or opted out; what podlogreader kept for it was deleted. */
  AccessRemoved: "AccessRemoved",
  /** A RoleBinding was emptied or deleted, or the Role shrunk or deleted, so that nothing grants more than it should. */
  Unbound: "Unbound",
  /**
   * An object of the workload's managed name was made for an earlier workload of the same name,
   * orphaned, or (a RoleBinding) bound another Role: it was deleted to be made anew.
   */
  Replaced: "Replaced",
  /** A write failed because the cache was behind the apiserver; the workload is tried again. */
  StaleCache: "StaleCache",
  /** A write was not sent: this replica does not hold the leader's Lease. */
  NotLeader: "NotLeader",
  /** An Event could not be written (Events are best effort). */
  EventNotRecorded: "EventNotRecorded",
} as const;

/** The fields for a line about `workload`, plus any extra ones (e.g. the object written). */
export function about(workload: { kind: string; namespace: string; name: string }, reason: string, extra: LogFields = {}): LogFields {
  return { kind: workload.kind, namespace: workload.namespace, name: workload.name, reason, ...extra };
}

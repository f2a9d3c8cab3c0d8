import type { ResourceType } from "../kube/resources.ts";

/** The workload kinds that can opt in, and what podlogreader needs to know about each. */
export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob";

export interface KindInfo {
  kind: WorkloadKind;
  resource: ResourceType;
  apiVersion: string;
  /** Inserted into managed names (`podlogreader-<infix>-<name>`); none for Deployments (see managedName). */
  nameInfix: string | undefined;
  /** `kubectl logs <kind>/<name>` works for this kind, so the Role grants `get` on the workload. */
  kubectlLogs: boolean;
  /** The kinds that may own this one as an intermediate link (Pod -> ReplicaSet -> Deployment). */
  parentKind?: WorkloadKind;
}

const apps = (plural: string, kind: WorkloadKind): ResourceType => ({ group: "apps", version: "v1", plural, kind });
const batch = (plural: string, kind: WorkloadKind): ResourceType => ({ group: "batch", version: "v1", plural, kind });

export const KINDS: Record<WorkloadKind, KindInfo> = {
  Deployment: {
    kind: "Deployment",
    resource: apps("deployments", "Deployment"),
    apiVersion: "apps/v1",
    nameInfix: undefined,
    kubectlLogs: true,
  },
  StatefulSet: {
    kind: "StatefulSet",
    resource: apps("statefulsets", "StatefulSet"),
    apiVersion: "apps/v1",
    nameInfix: "sts",
    kubectlLogs: true,
  },
  DaemonSet: { kind: "DaemonSet", resource: apps("daemonsets", "DaemonSet"), apiVersion: "apps/v1", nameInfix: "ds", kubectlLogs: true },
  ReplicaSet: {
    kind: "ReplicaSet",
    resource: apps("replicasets", "ReplicaSet"),
    apiVersion: "apps/v1",
    nameInfix: "rs",
    kubectlLogs: true,
    parentKind: "Deployment",
  },
  Job: { kind: "Job", resource: batch("jobs", "Job"), apiVersion: "batch/v1", nameInfix: "job", kubectlLogs: true, parentKind: "CronJob" },
  // kubectl logs does not support cronjob/NAME; `kubectl logs POD` and `-l` do work.
  CronJob: { kind: "CronJob", resource: batch("cronjobs", "CronJob"), apiVersion: "batch/v1", nameInfix: "cronjob", kubectlLogs: false },
};

export const WORKLOAD_KINDS = Object.keys(KINDS) as WorkloadKind[];

export function isWorkloadKind(kind: string): kind is WorkloadKind {
  return Object.hasOwn(KINDS, kind);
}

/** Kinds whose pods are owned directly by the workload object. */
export const POD_OWNER_KINDS: ReadonlySet<string> = new Set<WorkloadKind>(["ReplicaSet", "StatefulSet", "DaemonSet", "Job"]);

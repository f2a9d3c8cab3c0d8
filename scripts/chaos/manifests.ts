// The objects the harness creates: one builder per workload kind, all alike except where the kind
// demands otherwise, and pods that nobody's controller made.
import type {
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1ObjectMeta,
  V1OwnerReference,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../../src/access/marks.ts";
import type { WorkloadKind } from "../../src/access/kinds.ts";
import { deployment } from "../harness/workloads.ts";

export const CHAOS_LABEL = "chaos.podlogreader.dev/app";
export const SHORT: Record<WorkloadKind, string> = {
  Deployment: "deploy",
  StatefulSet: "sts",
  DaemonSet: "ds",
  ReplicaSet: "rs",
  Job: "job",
  CronJob: "cron",
};

/** The selector label of a workload: unique per kind and name, so selectors never overlap by accident. */
export const appLabel = (kind: WorkloadKind, name: string) => ({ [CHAOS_LABEL]: `${SHORT[kind]}-${name}` });
const optIn = (on: boolean): Record<string, string> => (on ? { [OPT_IN_LABEL]: OPT_IN_VALUE } : {});

export function podTemplate(kind: WorkloadKind, name: string, optedIn: boolean, restartPolicy = "Always"): V1PodTemplateSpec {
  return {
    metadata: { labels: { ...appLabel(kind, name), ...optIn(optedIn) } },
    spec: {
      containers: [{ name: "app", image: "registry.invalid/chaos:1" }],
      terminationGracePeriodSeconds: 0,
      restartPolicy,
    },
  };
}

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet | V1ReplicaSet | V1Job | V1CronJob;

export function workload(kind: WorkloadKind, name: string, replicas: number, optedIn: boolean): Workload {
  const metadata: V1ObjectMeta = { name };
  const selector = { matchLabels: appLabel(kind, name) };
  const template = podTemplate(kind, name, optedIn);
  switch (kind) {
    case "Deployment":
      return deployment(undefined, name, { replicas, selector: selector.matchLabels, template });
    case "StatefulSet":
      // Parallel and OnDelete: pods that never become ready must not stall scaling; rollouts delete pods themselves.
      return {
        apiVersion: "apps/v1",
        kind,
        metadata,
        spec: { replicas, selector, template, serviceName: name, podManagementPolicy: "Parallel", updateStrategy: { type: "OnDelete" } },
      };
    case "DaemonSet":
      return { apiVersion: "apps/v1", kind, metadata, spec: { selector, template } };
    case "ReplicaSet":
      return { apiVersion: "apps/v1", kind, metadata, spec: { replicas, selector, template } };
    case "Job":
      return { apiVersion: "batch/v1", kind, metadata, spec: jobSpec(kind, name, replicas, optedIn) };
    case "CronJob":
      // Suspended: runs are made by the harness (like `kubectl create job --from=cronjob/X`), never by the clock.
      return {
        apiVersion: "batch/v1",
        kind,
        metadata,
        spec: { schedule: "0 0 1 1 *", suspend: true, jobTemplate: { spec: jobSpec(kind, name, replicas, optedIn) } },
      };
  }
}

function jobSpec(kind: WorkloadKind, name: string, parallelism: number, optedIn: boolean): NonNullable<V1Job["spec"]> {
  return { parallelism, completions: Math.max(parallelism, 1), backoffLimit: 100, template: podTemplate(kind, name, optedIn, "Never") };
}

/** A pod with the opt-in label that no controller made; `owners` forged by the caller, if any. */
export function barePod(name: string, owners: V1OwnerReference[], extraLabels: Record<string, string> = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      labels: { [OPT_IN_LABEL]: OPT_IN_VALUE, "chaos.podlogreader.dev/bare": "true", ...extraLabels },
      ...(owners.length ? { ownerReferences: owners } : {}),
    },
    spec: { containers: [{ name: "app", image: "registry.invalid/chaos:1" }], terminationGracePeriodSeconds: 0, restartPolicy: "Never" },
  };
}

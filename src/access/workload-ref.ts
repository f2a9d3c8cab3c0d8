// KIND/NAME as kubectl spells it on a command line.
import { isObjectName } from "../kube/names.ts";
import type { WorkloadKind } from "./kinds.ts";

const ALIASES: Record<string, WorkloadKind> = {
  deploy: "Deployment",
  deployment: "Deployment",
  deployments: "Deployment",
  sts: "StatefulSet",
  statefulset: "StatefulSet",
  statefulsets: "StatefulSet",
  ds: "DaemonSet",
  daemonset: "DaemonSet",
  daemonsets: "DaemonSet",
  rs: "ReplicaSet",
  replicaset: "ReplicaSet",
  replicasets: "ReplicaSet",
  job: "Job",
  jobs: "Job",
  cj: "CronJob",
  cronjob: "CronJob",
  cronjobs: "CronJob",
};

/** Parses `KIND/NAME` the way kubectl spells kinds (deploy/web, sts/db, cronjob/nightly). */
export function parseWorkloadRef(text: string): { kind: WorkloadKind; name: string } | undefined {
  const slash = text.indexOf("/");
  if (slash <= 0) return undefined;
  const kind = ALIASES[text.slice(0, slash).toLowerCase()];
  const name = text.slice(slash + 1);
  if (!kind || !isObjectName(name)) return undefined;
  return { kind, name };
}

export const WORKLOAD_REF_RULE = "KIND/NAME with KIND one of deploy, sts, ds, rs, job, cronjob";

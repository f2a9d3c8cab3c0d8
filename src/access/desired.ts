import type { V1OwnerReference, V1PolicyRule, V1Role, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, WORKLOAD_ANNOTATION } from "./marks.ts";
import { KINDS } from "./kinds.ts";
import type { Workload } from "./membership.ts";
import { managedName } from "./names.ts";

/** As much of a workload as the access it gets depends on. */
type Identified = Pick<Workload, "kind" | "namespace" | "name" | "uid">;

/**
 * `own`: the ServiceAccount sees and reads only its workload's pods, by name.
 * `namespace`: it may also get, list and watch every pod of the namespace (which `kubectl logs
 * deploy/X`, `-l`, stern and k9s need): their specs, environment variables written in the spec,
 * and the log tails that FallbackToLogsOnError copies into termination messages. Never their logs.
 */
export type PodVisibility = "own" | "namespace";
export const POD_VISIBILITIES: readonly PodVisibility[] = ["own", "namespace"];

/**
 * `names`: the Role names the workload's pods (portable; trails the cluster by one write).
 * `none`: the Role names no pod; the webhook authorizer (src/authorizer) decides every read of a
 * pod at request time, and nothing of a pod is readable while it is down.
 */
export type RolePodNames = "names" | "none";
export const ROLE_POD_NAMES: readonly RolePodNames[] = ["names", "none"];

export interface AccessOptions {
  podVisibility: PodVisibility;
  /** Default `names`. */
  rolePodNames?: RolePodNames;
  /** Also keep a ServiceAccount and a RoleBinding of the same name. */
  createServiceAccountAndRoleBinding: boolean;
}

/** The metadata podlogreader sets on everything it creates. */
export interface ManagedMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: V1OwnerReference[];
}

type Managed<T> = T & { apiVersion: string; kind: string; metadata: ManagedMetadata };

export interface DesiredAccess {
  role: Managed<V1Role> & { rules: V1PolicyRule[] };
  /** The workload's pods that do not fit in one Role and are left out (see podsThatFit). */
  podsLeftOut: string[];
  serviceAccount?: Managed<V1ServiceAccount>;
  roleBinding?: Managed<V1RoleBinding>;
}

const RBAC_GROUP = "rbac.authorization.k8s.io";

export function workloadRef(workload: Pick<Workload, "kind" | "name">): string {
  return `${workload.kind}/${workload.name}`;
}

function ownerReference(workload: Identified): V1OwnerReference {
  return { apiVersion: KINDS[workload.kind].apiVersion, kind: workload.kind, name: workload.name, uid: workload.uid, controller: true };
}

function metadata(workload: Identified, name: string): ManagedMetadata {
  return {
    name,
    namespace: workload.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
    annotations: { [WORKLOAD_ANNOTATION]: workloadRef(workload) },
    ownerReferences: [ownerReference(workload)],
  };
}

/**
 * The most bytes of pod names one Role carries, counted as they are sent (each name with its quotes
 * and comma). The apiserver refuses a request body over 3 MiB and etcd an object over 1.5 MiB;
 * a Role at this budget is about 1 MiB, so it is written and stored with room to spare. That is
 * 4,000 pods with the longest names (253 characters) and 15,000 with the longest names a
 * ReplicaSet or Job generates (63).
 */
export const ROLE_POD_NAMES_BUDGET_BYTES = 1_000_000;

/**
 * The pods one Role can name: all of them when they fit the budget, else the first in name order
 * that do. The rest are left out (an under-grant the caller must report), never granted otherwise.
 */
export function podsThatFit(podNames: Iterable<string>): { granted: string[]; leftOut: string[] } {
  const sorted = [...new Set(podNames)].sort();
  let bytes = 0;
  for (let i = 0; i < sorted.length; i++) {
    bytes += sorted[i]!.length + 3;
    if (bytes > ROLE_POD_NAMES_BUDGET_BYTES) return { granted: sorted.slice(0, i), leftOut: sorted.slice(i) };
  }
  return { granted: sorted, leftOut: [] };
}

/**
 * The rules that let a workload's ServiceAccount read exactly its pods' logs:
 * - get, list and watch on its pods by name, and get on their logs (one rule, so the names are
 *   written once; list and watch mean nothing on pods/log). A list or watch of pods works under
 *   resourceNames when it selects one name with `fieldSelector=metadata.name=`;
 * - get on the workload, for `kubectl logs <kind>/<name>` where kubectl supports the kind;
 * - get on this Role itself, so a client can learn which pods it may read;
 * - for a CronJob, get on its current Jobs by name (`kubectl logs job/<name>`);
 * - in `namespace` visibility, get, list and watch on every pod of the namespace.
 * With no pods there is no rule naming pods at all: an empty resourceNames would grant every pod
 * in the namespace. The same holds for Jobs.
 */
export function roleRules(
  workload: Identified,
  podNames: Iterable<string>,
  options: Pick<AccessOptions, "podVisibility">,
  jobNames: Iterable<string> = [],
): V1PolicyRule[] {
  const pods = [...new Set(podNames)].sort();
  const jobs = [...new Set(jobNames)].sort();
  const rules: V1PolicyRule[] = [];
  if (pods.length > 0) {
    rules.push({ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"], resourceNames: pods });
  }
  const { resource, kubectlLogs } = KINDS[workload.kind];
  if (kubectlLogs)
    rules.push({ apiGroups: [resource.group], resources: [resource.plural], verbs: ["get"], resourceNames: [workload.name] });
  if (workload.kind === "CronJob" && jobs.length > 0)
    rules.push({ apiGroups: ["batch"], resources: ["jobs"], verbs: ["get"], resourceNames: jobs });
  rules.push({ apiGroups: [RBAC_GROUP], resources: ["roles"], verbs: ["get"], resourceNames: [managedName(workload.kind, workload.name)] });
  if (options.podVisibility === "namespace") rules.push({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] });
  return rules;
}

/** The pods whose logs a Role's rules grant by name. */
export function grantedPods(
  rules: readonly { resources?: string[] | null; resourceNames?: string[] | null }[] | null | undefined,
): string[] {
  return (rules ?? []).find((r) => r.resources?.includes("pods/log"))?.resourceNames ?? [];
}

/** Everything podlogreader keeps for one opted-in workload. Pure: no I/O. */
export function desiredAccess(
  workload: Identified,
  podNames: Iterable<string>,
  options: AccessOptions,
  jobNames: Iterable<string> = [],
): DesiredAccess {
  const name = managedName(workload.kind, workload.name);
  const { granted, leftOut } = podsThatFit(options.rolePodNames === "none" ? [] : podNames);
  const desired: DesiredAccess = {
    role: {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "Role",
      metadata: metadata(workload, name),
      rules: roleRules(workload, granted, options, jobNames),
    },
    podsLeftOut: leftOut,
  };
  if (options.createServiceAccountAndRoleBinding) {
    desired.serviceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(workload, name) };
    desired.roleBinding = {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "RoleBinding",
      metadata: metadata(workload, name),
      roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: workload.namespace }],
    };
  }
  return desired;
}

// What a workload's Role says about its pods, and whether it is podlogreader's Role at all.
import { isManagedFor, managedOwner } from "./ownership.ts";
import type { WorkloadKind } from "./kinds.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, WORKLOAD_ANNOTATION } from "./marks.ts";
import type { ObjectMeta, PolicyRule } from "../kube/objects.ts";

/**
 * The pod names a Role grants `get pods/log` on, sorted. Rules without resourceNames are
 * skipped: they name no pod (an unrestricted rule would grant every pod, which is not a list
 * of the workload's pods).
 */
export function grantedPods(role: { rules?: PolicyRule[] | null }): string[] {
  const names = new Set<string>();
  for (const rule of role.rules ?? []) {
    const core = rule.apiGroups?.some((g) => g === "" || g === "*") ?? false;
    const logs = rule.resources?.some((r) => r === "pods/log" || r === "*" || r === "pods/*") ?? false;
    const get = rule.verbs.some((v) => v === "get" || v === "*");
    if (core && logs && get) for (const name of rule.resourceNames ?? []) names.add(name);
  }
  return [...names].sort();
}

/**
 * How a Role serves its workload (`--role-pod-names`): `names` when it grants `get pods/log` on pod
 * names, `none` when it names no pod (the webhook authorizer decides each read when it is made).
 * A names-mode Role of a workload that has no pods names none either, so it reads as `none`.
 */
export type RoleMode = "names" | "none";
export function roleMode(role: { rules?: PolicyRule[] | null }): RoleMode {
  return grantedPods(role).length > 0 ? "names" : "none";
}

/**
 * Why a Role of the workload's managed name is not podlogreader's Role for that workload, or
 * undefined when it is (isManagedFor). Anyone who may create Roles can make one of that name that
 * lists other pods; only podlogreader's marks say the names are the workload's pods.
 */
export function unmanagedReason(meta: ObjectMeta, workload: { kind: WorkloadKind; name: string }): string | undefined {
  if (isManagedFor(meta, workload)) return undefined;
  if (meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return `it lacks the label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const owner = managedOwner(meta);
  if (!owner) return `it has neither a controller ownerReference nor a ${WORKLOAD_ANNOTATION} annotation naming its workload`;
  const from = owner.apiVersion === undefined ? `its ${WORKLOAD_ANNOTATION} annotation` : "its controller ownerReference";
  return `${from} names ${owner.apiVersion === undefined ? "" : `${owner.apiVersion} `}${owner.kind}/${owner.name}`;
}

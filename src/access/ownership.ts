import { controllerOf, type ObjectMeta } from "../kube/objects.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "./marks.ts";

export interface WorkloadIdentity {
  kind: string;
  apiVersion: string;
  name: string;
}

/**
 * True when an object carries podlogreader's marks for this workload: the managed-by label and
 * a controller ownerReference to a workload of that kind and name. Only such objects are ever
 * changed or deleted. The owner's UID may be stale (the workload was deleted and created again);
 * the next write points it at the current one.
 */
export function isManagedFor(meta: ObjectMeta, workload: WorkloadIdentity): boolean {
  if (meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return false;
  const owner = controllerOf(meta);
  return owner !== undefined && owner.kind === workload.kind && owner.apiVersion === workload.apiVersion && owner.name === workload.name;
}

/** The workload a managed object says it belongs to, from its controller ownerReference. */
export function managedOwner(meta: ObjectMeta): WorkloadIdentity | undefined {
  if (meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return undefined;
  const owner = controllerOf(meta);
  return owner ? { kind: owner.kind, apiVersion: owner.apiVersion, name: owner.name } : undefined;
}

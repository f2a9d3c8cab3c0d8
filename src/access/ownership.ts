import { controllerOf, type ObjectMeta } from "../kube/objects.ts";
import { KINDS } from "./kinds.ts";
import type { Workload } from "./membership.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, WORKLOAD_ANNOTATION } from "./marks.ts";

/**
 * The workload a managed object belongs to, or undefined when it does not carry podlogreader's
 * marks: the managed-by label, and a controller ownerReference or (when garbage collection
 * orphaned it and removed the reference) the workload annotation.
 */
export function managedOwner(meta: ObjectMeta): { kind: string; name: string; apiVersion?: string } | undefined {
  if (meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return undefined;
  const owner = controllerOf(meta);
  if (owner) return { kind: owner.kind, name: owner.name, apiVersion: owner.apiVersion };
  const annotation = meta.annotations?.[WORKLOAD_ANNOTATION];
  const slash = annotation?.indexOf("/") ?? -1;
  if (!annotation || slash <= 0) return undefined;
  return { kind: annotation.slice(0, slash), name: annotation.slice(slash + 1) };
}

/**
 * True when an object carries podlogreader's marks for this workload. Only such objects are ever
 * changed or deleted. The owner's UID may be stale (the workload was deleted and created again);
 * the next write points it at the current one.
 */
export function isManagedFor(meta: ObjectMeta, workload: Pick<Workload, "kind" | "name">): boolean {
  const owner = managedOwner(meta);
  return (
    owner !== undefined &&
    owner.kind === workload.kind &&
    owner.name === workload.name &&
    (owner.apiVersion === undefined || owner.apiVersion === KINDS[workload.kind].apiVersion)
  );
}

/**
 * True when an object carries podlogreader's marks for this very workload: its controller
 * ownerReference names the workload's current UID. One made for an earlier workload of the same
 * name, or orphaned (only the annotation left), is replaced, never used again: tokens of an
 * earlier ServiceAccount must not read the new workload's pods.
 */
export function isCurrentFor(meta: ObjectMeta, workload: Pick<Workload, "kind" | "name" | "uid">): boolean {
  return isManagedFor(meta, workload) && controllerOf(meta)?.uid === workload.uid;
}

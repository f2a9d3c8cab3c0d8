// Whether an object was made by podlogreader, and so may be removed by `podlogreader cleanup`.
import { workloadRef } from "../../access/desired.ts";
import { isWorkloadKind, KINDS, type WorkloadKind } from "../../access/kinds.ts";
import { MANAGED_BY_LABEL, MANAGED_SELECTOR, MANAGED_BY_VALUE, WORKLOAD_ANNOTATION } from "../../access/marks.ts";
import { managedName, NAME_PREFIX } from "../../access/names.ts";
import { isManagedFor } from "../../access/ownership.ts";
import { controllerOf, type ObjectMeta } from "../../kube/objects.ts";

export type Verdict = { made: true; workload: { kind: WorkloadKind; name: string } } | { made: false; why: string };

const no = (why: string): Verdict => ({ made: false, why });

/**
 * Made by podlogreader: it carries all three of the marks the controller sets on what it creates
 * (the managed-by label, the workload annotation, a controller ownerReference to a workload), they
 * name the same workload, the controller would touch it for that workload (isManagedFor), and its
 * name is the one the controller gives that workload's objects. Stricter than the controller, which
 * also takes an object whose ownerReference garbage collection removed: a cleanup that runs
 * unattended deletes nothing that one mark alone could have put in its way.
 */
export function madeByPodlogreader(meta: ObjectMeta): Verdict {
  if (meta.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return no(`it lacks the label ${MANAGED_SELECTOR}`);
  const annotation = meta.annotations?.[WORKLOAD_ANNOTATION];
  if (!annotation) return no(`it lacks the annotation ${WORKLOAD_ANNOTATION}`);
  const owner = controllerOf(meta);
  if (!owner) return no(`it has no controller ownerReference (the annotation names ${annotation})`);
  if (!isWorkloadKind(owner.kind) || owner.apiVersion !== KINDS[owner.kind].apiVersion) {
    return no(`its controller is ${owner.apiVersion} ${owner.kind} ${owner.name}, not a workload`);
  }
  const workload = { kind: owner.kind, name: owner.name };
  const ref = workloadRef(workload);
  if (annotation !== ref) return no(`its annotation names ${annotation} but its controller is ${ref}`);
  if (!isManagedFor(meta, workload)) return no(`the controller would not take it for ${ref}`);
  const expected = managedName(workload.kind, workload.name);
  if (meta.name !== expected) return no(`podlogreader names the objects of ${ref} ${expected}`);
  return { made: true, workload };
}

/** Carries one of podlogreader's marks or its name prefix: worth saying why it is left alone. */
export function looksLikePodlogreaders(meta: ObjectMeta): boolean {
  return (
    meta.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ||
    meta.annotations?.[WORKLOAD_ANNOTATION] !== undefined ||
    meta.name.startsWith(NAME_PREFIX)
  );
}

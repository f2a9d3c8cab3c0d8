// Which listed pods belong to a workload, by their controller chain (by UID), for `--role-pod-names=none`
// where the Role names no pod and the pods are listed by the workload's selector. Pure: no I/O.
import type { WorkloadKind } from "../access/kinds.ts";
import type { ObjectMeta } from "../kube/objects.ts";

type Owned = Pick<ObjectMeta, "ownerReferences">;
const controllerOf = (meta: Owned) => meta.ownerReferences?.find((o) => o.controller === true);

/** The kind that sits between a workload and its pods: a Deployment's ReplicaSets, a CronJob's Jobs. */
export const LINK_KIND: Partial<Record<WorkloadKind, "ReplicaSet" | "Job">> = { Deployment: "ReplicaSet", CronJob: "Job" };

/**
 * What is known of a link object's controller: its UID as read, or `vouched` when it could not be
 * read (the reader may not get ReplicaSets) and the pod list itself was the webhook's to allow.
 */
export type LinkOwner = { uid: string } | "vouched";

/**
 * The names of the pods whose controller chain leads to the workload `uid`, sorted. A pod without
 * a controller, or with a link whose owner is not known, is left out.
 */
export function podsOfWorkload(
  pods: readonly { metadata: Pick<ObjectMeta, "name" | "ownerReferences"> }[],
  workload: { kind: WorkloadKind; uid: string },
  links: ReadonlyMap<string, LinkOwner>,
): string[] {
  const link = LINK_KIND[workload.kind];
  const names = pods.filter(({ metadata }) => {
    const c = controllerOf(metadata);
    if (!c) return false;
    if (!link) return c.kind === workload.kind && c.uid === workload.uid;
    if (c.kind !== link) return false;
    const owner = links.get(c.uid);
    return owner === "vouched" || owner?.uid === workload.uid;
  });
  return names.map((p) => p.metadata.name).sort();
}

/** The link objects (ReplicaSets, Jobs) the pods' controllers name that are not looked up yet. */
export function linksToRead(
  pods: readonly { metadata: Pick<ObjectMeta, "ownerReferences"> }[],
  kind: WorkloadKind,
  known: ReadonlyMap<string, LinkOwner>,
): { name: string; uid: string }[] {
  const link = LINK_KIND[kind];
  if (!link) return [];
  const out = new Map<string, { name: string; uid: string }>();
  for (const { metadata } of pods) {
    const c = controllerOf(metadata);
    if (c?.kind === link && !known.has(c.uid)) out.set(c.uid, { name: c.name, uid: c.uid });
  }
  return [...out.values()];
}

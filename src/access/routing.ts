// From a watch event to the workloads it concerns. A workload or pod event is applied to the
// membership index, and the answer is exactly the managed workloads whose desired state (managed
// or not, and which pods) it changed, each with how soon it must be written. An event on an object
// podlogreader keeps (Role, RoleBinding, ServiceAccount) or on a foreign ServiceAccount that takes
// a managed name concerns the workload it is for; the resync concerns every workload that is
// managed or still has managed objects.
import type { PartialObjectMetadata } from "../kube/objects.ts";
import { isWorkloadKind } from "./kinds.ts";
import { keyOfWorkload, workloadKey, type Owned, type World, type Workload } from "./membership.ts";
import { managedName, NAME_PREFIX } from "./names.ts";
import { managedOwner } from "./ownership.ts";

/**
 * `now`: a pod left the workload, or it stopped being managed. A name left in a Role after its pod
 * is gone is a live grant if the name comes back, so this never waits.
 * `batch`: only pods arrived (or the workload became managed with pods); such changes may be
 * gathered, but a lone one should be written at once.
 * `gather`: a pod arrived and more of its ReplicaSet's pods are being made (it has fewer than its
 * `spec.replicas`); written at once if the workload is idle, else it may wait for them, up to the
 * window; the arrival that completes the ReplicaSet is a `batch`.
 * `later`: the workload became managed and has no pods yet; nothing is granted by writing it now,
 * and waiting lets its first Role name its first pods.
 */
export type Urgency = "now" | "batch" | "gather" | "later";

export interface Touched {
  /** The work-queue key of the workload: `Kind/namespace/name`. */
  key: string;
  urgency: Urgency;
}

/** What podlogreader keeps for a workload: nothing, or a Role naming these pods (and a CronJob's Jobs). */
type DesiredState = { managed: false } | { managed: true; names: Set<string> };

function desiredState(world: World, w: Workload | undefined): DesiredState {
  if (!w) return { managed: false };
  const current = world.get(w.kind, w.namespace, w.name);
  if (!current || !world.isManaged(current)) return { managed: false };
  // Pod and Job names cannot be told apart here, nor need they be: both are names the Role grants.
  const names = new Set(world.podNamesOf(current).map((p) => `pod/${p}`));
  for (const j of world.jobNamesOf(current)) names.add(`job/${j}`);
  return { managed: true, names };
}

/** How the desired state went from `before` to `after`; undefined when it did not change. */
function change(before: DesiredState, after: DesiredState): Urgency | undefined {
  if (!before.managed) return after.managed ? ([...after.names].some((n) => n.startsWith("pod/")) ? "batch" : "later") : undefined;
  if (!after.managed) return "now";
  for (const n of before.names) if (!after.names.has(n)) return "now";
  return after.names.size !== before.names.size ? "batch" : undefined;
}

/** Applies a workload event (added: no `old`; deleted: no `current`) and says whom it concerns. */
export function applyWorkloadEvent(world: World, old: Workload | undefined, current: Workload | undefined): Touched[] {
  const sameMembership =
    old &&
    current &&
    old.optedIn === current.optedIn &&
    old.uid === current.uid &&
    old.controllerKind === current.controllerKind &&
    old.controllerUid === current.controllerUid;
  if (sameMembership) {
    world.updateWorkload(old, current);
    return [];
  }
  // The object itself, and what it belongs to before and after: nothing else can change. (What
  // `current` will belong to is found before the update: its parent is another object.)
  const candidates = new Map<string, Workload>();
  for (const w of [old, current, old && world.resolve(old), current && world.resolve(current)]) if (w) candidates.set(keyOfWorkload(w), w);
  const before = new Map([...candidates].map(([key, w]) => [key, desiredState(world, w)]));
  world.updateWorkload(old, current);
  const touched: Touched[] = [];
  for (const [key, w] of candidates) {
    const urgency = change(before.get(key)!, desiredState(world, w));
    if (urgency) touched.push({ key, urgency });
  }
  return touched;
}

/** Applies a pod event (added: no `old`; deleted: no `current`) and says whom it concerns. */
export function applyPodEvent(world: World, old: Owned | undefined, current: Owned | undefined): Touched[] {
  const managedOwner = (pod: Owned | undefined) => {
    const w = pod && world.workloadOfPod(pod);
    return w && world.isManaged(w) ? w : undefined;
  };
  const before = managedOwner(old);
  world.updatePod(old, current);
  const after = managedOwner(current);
  const beforeKey = before && keyOfWorkload(before);
  const afterKey = after && keyOfWorkload(after);
  if (beforeKey === afterKey) return [];
  const touched: Touched[] = [];
  if (beforeKey) touched.push({ key: beforeKey, urgency: "now" });
  if (afterKey && afterKey !== beforeKey) touched.push({ key: afterKey, urgency: world.moreOnTheWay(current!) ? "gather" : "batch" });
  return touched;
}

/** The workload whose marks an object carries, as a key; undefined without marks of a workload kind. */
function ownerKey(obj: PartialObjectMetadata): string | undefined {
  const owner = managedOwner(obj.metadata);
  return owner && isWorkloadKind(owner.kind) ? workloadKey(owner.kind, obj.metadata.namespace, owner.name) : undefined;
}

/**
 * A Role or RoleBinding podlogreader keeps changed or went away, perhaps by hand: its workload is
 * looked at again now, since the change may grant more than it should.
 */
export function applyManagedEvent(obj: PartialObjectMetadata): Touched[] {
  const key = ownerKey(obj);
  return key ? [{ key, urgency: "now" }] : [];
}

/**
 * A ServiceAccount changed. Ours is a managed object. A foreign one that appears or goes away
 * under the name of a managed workload's ServiceAccount changes what that workload needs: it must
 * never be bound, and its going frees the name.
 */
export function applyServiceAccountEvent(
  world: World,
  old: PartialObjectMetadata | undefined,
  current: PartialObjectMetadata | undefined,
): Touched[] {
  const obj = old ?? current;
  if (!obj) return [];
  if (managedOwner(obj.metadata)) return applyManagedEvent(obj);
  const { namespace, name } = obj.metadata;
  // Most ServiceAccounts cannot be one of ours; only a foreign one of a managed name needs the scan.
  if ((old && current) || !name.startsWith(NAME_PREFIX)) return [];
  const touched: Touched[] = [];
  for (const w of world.managedWorkloads()) {
    if (w.namespace === namespace && managedName(w.kind, w.name) === name) touched.push({ key: keyOfWorkload(w), urgency: "now" });
  }
  return touched;
}

/** The resync: every managed workload, and every workload that still has managed objects (to remove them). */
export function resyncKeys(world: World, managedObjects: Iterable<PartialObjectMetadata>): string[] {
  const keys = new Set<string>();
  for (const w of world.managedWorkloads()) keys.add(keyOfWorkload(w));
  for (const obj of managedObjects) {
    const key = ownerKey(obj);
    if (key) keys.add(key);
  }
  return [...keys];
}

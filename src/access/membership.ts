// The controller's view of the cluster: compact projections of workload objects and opted-in pods,
// indexed by controller ownerReference UID, so a workload's pods are found without any API call.
import { KINDS, POD_OWNER_KINDS, type WorkloadKind } from "./kinds.ts";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "./marks.ts";
import { controllerOf, PartialObjectMetadata, parseObject, WorkloadSchema, type LabelSelector, type ObjectMeta } from "../kube/objects.ts";
import { getOrCreate } from "../util/maps.ts";

/** Who an object is and which object controls it, by UID. */
export interface Owned {
  namespace: string;
  name: string;
  uid: string;
  controllerKind?: string;
  controllerUid?: string;
}

/** A Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob. */
export interface Workload extends Owned {
  kind: WorkloadKind;
  /** Decided by the object's own pod template, and nothing else. */
  optedIn: boolean;
  /** A ReplicaSet's `spec.replicas`: how many pods it is making. Only a hint of what is coming, never a grant. */
  replicas?: number;
  /** `spec.selector`: which pods the workload counts as its own (none kept for a CronJob). */
  selector?: LabelSelector;
}

export const keyOf = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;
/** The work-queue key of a workload: `Kind/namespace/name`. */
export const workloadKey = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
export const keyOfWorkload = (w: Workload) => workloadKey(w.kind, w.namespace, w.name);

export function splitWorkloadKey(key: string): { kind: string; namespace: string; name: string } {
  const [kind = "", namespace = "", ...rest] = key.split("/");
  return { kind, namespace, name: rest.join("/") };
}

export function owned(meta: ObjectMeta): Owned {
  const controller = controllerOf(meta);
  return { namespace: meta.namespace, name: meta.name, uid: meta.uid, controllerKind: controller?.kind, controllerUid: controller?.uid };
}

/** Reads a workload object; a CronJob's pod template is the one inside its job template. */
export function parseWorkload(kind: WorkloadKind): (raw: unknown) => Workload {
  return (raw) => {
    const w = parseObject(WorkloadSchema, raw, kind);
    const template = kind === "CronJob" ? w.spec.jobTemplate?.spec?.template : w.spec.template;
    const workload: Workload = { ...owned(w.metadata), kind, optedIn: template?.metadata?.labels?.[OPT_IN_LABEL] === OPT_IN_VALUE };
    if (kind === "ReplicaSet") workload.replicas = w.spec.replicas ?? 1;
    if (w.spec.selector) workload.selector = w.spec.selector;
    return workload;
  };
}

/** A pod is kept only when it carries the opt-in label itself; the watch's selector already asks for that. */
export function parsePod(raw: unknown): Owned {
  const { metadata } = parseObject(PartialObjectMetadata, raw, "Pod metadata");
  if (metadata.labels?.[OPT_IN_LABEL] !== OPT_IN_VALUE) throw new Error(`pod ${keyOf(metadata)} lacks ${OPT_IN_LABEL}=${OPT_IN_VALUE}`);
  return owned(metadata);
}

/**
 * Children indexed by the UID of their controller, each child by its own UID: a ReplicaSet and a
 * Job of the same name can point at the same controller UID, and must not replace each other.
 */
class ControllerIndex<T extends Owned> {
  private readonly byController = new Map<string, Map<string, T>>();

  update(old: T | undefined, current: T | undefined): void {
    if (old?.controllerUid) {
      const children = this.byController.get(old.controllerUid);
      children?.delete(old.uid);
      if (children?.size === 0) this.byController.delete(old.controllerUid);
    }
    if (current?.controllerUid) {
      getOrCreate(this.byController, current.controllerUid, () => new Map()).set(current.uid, current);
    }
  }

  countOf(uid: string): number {
    return this.byController.get(uid)?.size ?? 0;
  }

  childrenOf(uid: string): Iterable<T> {
    return this.byController.get(uid)?.values() ?? [];
  }
}

/**
 * Membership by controller ownerReferences, each followed by UID within one namespace:
 *   Pod -> ReplicaSet -> Deployment      Pod -> StatefulSet      Pod -> DaemonSet
 *   Pod -> Job -> CronJob                Pod -> ReplicaSet or Job with no controller of its own
 * A ReplicaSet or Job that has a controller belongs to it (if it is a Deployment or CronJob that
 * exists) and is never a workload by itself.
 */
export class World {
  private readonly byUid = new Map<string, Workload>();
  private readonly byKey = new Map<string, Workload>();
  private readonly linksByParent = new ControllerIndex<Workload>();
  private readonly podsByOwner = new ControllerIndex<Owned>();

  updateWorkload(old: Workload | undefined, current: Workload | undefined): void {
    if (old) {
      this.byUid.delete(old.uid);
      this.byKey.delete(keyOfWorkload(old));
    }
    if (current) {
      this.byUid.set(current.uid, current);
      this.byKey.set(keyOfWorkload(current), current);
    }
    this.linksByParent.update(old && isLink(old) ? old : undefined, current && isLink(current) ? current : undefined);
  }

  updatePod(old: Owned | undefined, current: Owned | undefined): void {
    const ownedByWorkload = (p: Owned | undefined) => (p?.controllerKind && POD_OWNER_KINDS.has(p.controllerKind) ? p : undefined);
    this.podsByOwner.update(ownedByWorkload(old), ownedByWorkload(current));
  }

  get(kind: string, namespace: string, name: string): Workload | undefined {
    return this.byKey.get(workloadKey(kind, namespace, name));
  }

  all(): Iterable<Workload> {
    return this.byKey.values();
  }

  /**
   * True when `w` is a workload podlogreader keeps access for: it opted in through its own pod
   * template, and it is a workload of its own (not a Deployment's ReplicaSet or a CronJob's Job).
   */
  isManaged(w: Workload): boolean {
    return w.optedIn && this.resolve(w) === w;
  }

  /** The managed workload `kind/namespace/name`, if it is one. */
  managed(kind: string, namespace: string, name: string): Workload | undefined {
    const w = this.get(kind, namespace, name);
    return w && this.isManaged(w) ? w : undefined;
  }

  /** Every managed workload. */
  *managedWorkloads(): Iterable<Workload> {
    for (const w of this.byKey.values()) if (this.isManaged(w)) yield w;
  }

  /** The workload that `obj` is, or belongs to; undefined when the chain ends anywhere else. */
  resolve(obj: Workload): Workload | undefined {
    const parentKind = KINDS[obj.kind].parentKind;
    // Deployments, StatefulSets, DaemonSets and CronJobs are workloads whoever controls them;
    // a ReplicaSet or Job is one only when nothing controls it.
    if (!parentKind || !obj.controllerUid) return obj;
    if (obj.controllerKind !== parentKind) return undefined;
    const parent = this.byUid.get(obj.controllerUid);
    return parent && parent.kind === parentKind && parent.namespace === obj.namespace ? parent : undefined;
  }

  /** The workload a pod belongs to, if any. */
  workloadOfPod(pod: Owned): Workload | undefined {
    if (!pod.controllerUid || !pod.controllerKind || !POD_OWNER_KINDS.has(pod.controllerKind)) return undefined;
    const owner = this.byUid.get(pod.controllerUid);
    if (!owner || owner.kind !== pod.controllerKind || owner.namespace !== pod.namespace) return undefined;
    return this.resolve(owner);
  }

  /**
   * True when the pod's ReplicaSet has fewer pods than its `spec.replicas`: more of its pods are
   * being made (a scale-up or a rollout), so a write now would soon be followed by another.
   */
  moreOnTheWay(pod: Owned): boolean {
    if (pod.controllerKind !== "ReplicaSet" || !pod.controllerUid) return false;
    const owner = this.byUid.get(pod.controllerUid);
    if (owner?.kind !== "ReplicaSet" || owner.replicas === undefined) return false;
    // Every pod that names this UID as its controller counts; a forged one only makes a write come sooner.
    return this.podsByOwner.countOf(owner.uid) < owner.replicas;
  }

  /** Names of the Jobs a CronJob controls now (none for other kinds). */
  jobNamesOf(w: Workload): string[] {
    if (w.kind !== "CronJob") return [];
    const names: string[] = [];
    for (const link of this.linksByParent.childrenOf(w.uid)) {
      if (link.kind === "Job" && link.namespace === w.namespace && link.controllerKind === "CronJob") names.push(link.name);
    }
    return names;
  }

  /** Names of the pods that belong to workload `w` now. */
  podNamesOf(w: Workload): string[] {
    const names: string[] = [];
    const addPodsOf = (owner: Workload) => {
      for (const pod of this.podsByOwner.childrenOf(owner.uid)) {
        if (pod.namespace === w.namespace && pod.controllerKind === owner.kind) names.push(pod.name);
      }
    };
    if (POD_OWNER_KINDS.has(w.kind)) addPodsOf(w);
    for (const link of this.linksByParent.childrenOf(w.uid)) {
      if (link.namespace === w.namespace && KINDS[link.kind].parentKind === w.kind && link.controllerKind === w.kind) addPodsOf(link);
    }
    return names;
  }
}

/** A ReplicaSet or Job controlled by something: a possible middle link of a chain. */
function isLink(w: Workload): boolean {
  return KINDS[w.kind].parentKind !== undefined && w.controllerUid !== undefined;
}

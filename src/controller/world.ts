// The controller's view of the cluster: compact projections of Deployments, ReplicaSets and
// opted-in pods, indexed by controller ownerReference UID so a workload's pods are found without
// any API call, plus the objects podlogreader manages.
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../access/marks.ts";
import { controllerOf, Deployment, Metadata, parseObject, type ObjectMeta } from "../kube/objects.ts";

export interface DeploymentRef {
  namespace: string;
  name: string;
  uid: string;
  /** Decided by the Deployment's own pod template, and nothing else. */
  optedIn: boolean;
}

/** A ReplicaSet or Pod: who it is and which object controls it, by UID. */
export interface OwnedRef {
  namespace: string;
  name: string;
  uid: string;
  controllerKind?: string;
  controllerUid?: string;
}

export const keyOf = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function parseDeployment(raw: unknown): DeploymentRef {
  const d = parseObject(Deployment, raw, "Deployment");
  const labels = d.spec.template.metadata?.labels;
  return { namespace: d.metadata.namespace, name: d.metadata.name, uid: d.metadata.uid, optedIn: labels?.[OPT_IN_LABEL] === OPT_IN_VALUE };
}

function owned(meta: ObjectMeta): OwnedRef {
  const controller = controllerOf(meta);
  return { namespace: meta.namespace, name: meta.name, uid: meta.uid, controllerKind: controller?.kind, controllerUid: controller?.uid };
}

export function parseReplicaSet(raw: unknown): OwnedRef {
  return owned(parseObject(Metadata, raw, "ReplicaSet metadata").metadata);
}

/** A pod is kept only when it carries the opt-in label itself; the watch's selector already asks for that. */
export function parsePod(raw: unknown): OwnedRef {
  const { metadata } = parseObject(Metadata, raw, "Pod metadata");
  if (metadata.labels?.[OPT_IN_LABEL] !== OPT_IN_VALUE) throw new Error(`pod ${keyOf(metadata)} lacks ${OPT_IN_LABEL}=${OPT_IN_VALUE}`);
  return owned(metadata);
}

/** Children indexed by the UID of their controller. */
class ControllerIndex {
  private readonly byController = new Map<string, Map<string, OwnedRef>>();

  update(old: OwnedRef | undefined, current: OwnedRef | undefined): void {
    if (old?.controllerUid) {
      const children = this.byController.get(old.controllerUid);
      children?.delete(keyOf(old));
      if (children?.size === 0) this.byController.delete(old.controllerUid);
    }
    if (current?.controllerUid) {
      let children = this.byController.get(current.controllerUid);
      if (!children) this.byController.set(current.controllerUid, (children = new Map()));
      children.set(keyOf(current), current);
    }
  }

  childrenOf(uid: string): Iterable<OwnedRef> {
    return this.byController.get(uid)?.values() ?? [];
  }
}

/** Membership by controller ownerReferences: Pod -> ReplicaSet -> Deployment, each by UID. */
export class World {
  readonly deploymentsByUid = new Map<string, DeploymentRef>();
  readonly replicaSetsByUid = new Map<string, OwnedRef>();
  private readonly replicaSetsByDeployment = new ControllerIndex();
  private readonly podsByReplicaSet = new ControllerIndex();

  updateDeployment(old: DeploymentRef | undefined, current: DeploymentRef | undefined): void {
    if (old) this.deploymentsByUid.delete(old.uid);
    if (current) this.deploymentsByUid.set(current.uid, current);
  }

  updateReplicaSet(old: OwnedRef | undefined, current: OwnedRef | undefined): void {
    if (old) this.replicaSetsByUid.delete(old.uid);
    if (current) this.replicaSetsByUid.set(current.uid, current);
    this.replicaSetsByDeployment.update(
      old?.controllerKind === "Deployment" ? old : undefined,
      current?.controllerKind === "Deployment" ? current : undefined,
    );
  }

  updatePod(old: OwnedRef | undefined, current: OwnedRef | undefined): void {
    this.podsByReplicaSet.update(
      old?.controllerKind === "ReplicaSet" ? old : undefined,
      current?.controllerKind === "ReplicaSet" ? current : undefined,
    );
  }

  /** The Deployment a pod belongs to, if its owner chain is Pod -> ReplicaSet -> Deployment in one namespace. */
  deploymentOfPod(pod: OwnedRef): DeploymentRef | undefined {
    if (pod.controllerKind !== "ReplicaSet" || !pod.controllerUid) return undefined;
    const rs = this.replicaSetsByUid.get(pod.controllerUid);
    if (!rs || rs.namespace !== pod.namespace) return undefined;
    return this.deploymentOfReplicaSet(rs);
  }

  deploymentOfReplicaSet(rs: OwnedRef): DeploymentRef | undefined {
    if (rs.controllerKind !== "Deployment" || !rs.controllerUid) return undefined;
    const d = this.deploymentsByUid.get(rs.controllerUid);
    return d && d.namespace === rs.namespace ? d : undefined;
  }

  /** Names of the pods that belong to `d` now. */
  podNamesOf(d: DeploymentRef): string[] {
    const names: string[] = [];
    for (const rs of this.replicaSetsByDeployment.childrenOf(d.uid)) {
      if (rs.namespace !== d.namespace) continue;
      for (const pod of this.podsByReplicaSet.childrenOf(rs.uid)) {
        if (pod.namespace === d.namespace) names.push(pod.name);
      }
    }
    return names;
  }
}

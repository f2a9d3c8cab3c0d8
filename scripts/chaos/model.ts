// What each ServiceAccount should and must not read, worked out from the API objects alone. This
// is the harness's own reading of the product's rule (README, "How it decides who belongs"), and
// deliberately shares no code with the controller's membership logic:
//   - a workload opts in by its OWN pod template labels only (a CronJob: its job template's);
//   - a pod belongs to a workload when it carries the opt-in label and its controller
//     ownerReferences, each followed by UID within the namespace, lead there:
//     Pod -> ReplicaSet -> Deployment, Pod -> StatefulSet/DaemonSet, Pod -> Job -> CronJob,
//     Pod -> ReplicaSet/Job with no controller of its own;
//   - a pod counts for as long as it exists: terminating (deletionTimestamp set), Succeeded and
//     Failed pods are members until they are gone, as the controller's cache keeps them.
// A pod whose chain leads to the workload but lacks the label is neither owed nor forbidden.
// A Role under the workload's managed name that lacks podlogreader's label is someone else's: the
// workload's ServiceAccount then reads nothing at all (no binding of podlogreader's may point there).
// A ServiceAccount under that name that lacks the label is someone else's too: podlogreader never
// binds it (its tokens are not podlogreader's to hand out), so the name is owed nothing.
import type {
  V1ObjectMeta,
  V1OwnerReference,
  V1Pod,
  V1PodTemplateSpec,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import type { WorkloadKind } from "../../src/access/kinds.ts";

const OPT_IN = ["podlogreader-affiliate", "enable"] as const;
const MANAGED_BY = ["app.kubernetes.io/managed-by", "podlogreader"] as const;
const WORKLOAD_ANNOTATION = "podlogreader.dev/workload";

/** Any workload object: the fields the model reads. */
export interface RawWorkload {
  metadata?: V1ObjectMeta;
  spec?: { template?: V1PodTemplateSpec; jobTemplate?: { spec?: { template?: V1PodTemplateSpec } } };
}

export interface WorkloadFact {
  kind: WorkloadKind;
  name: string;
  uid: string;
  optedIn: boolean;
  controller?: V1OwnerReference;
}

export interface Snapshot {
  namespace: string;
  workloads: WorkloadFact[];
  pods: V1Pod[];
  roles: V1Role[];
  roleBindings: V1RoleBinding[];
  serviceAccounts: V1ServiceAccount[];
}

export const controllerRef = (meta: V1ObjectMeta | undefined) => meta?.ownerReferences?.find((o) => o.controller === true);
export const isManaged = (meta: V1ObjectMeta | undefined) => meta?.labels?.[MANAGED_BY[0]] === MANAGED_BY[1];
const hasOptIn = (labels: Record<string, string> | undefined) => labels?.[OPT_IN[0]] === OPT_IN[1];

export function workloadFact(kind: WorkloadKind, raw: RawWorkload): WorkloadFact {
  const template = kind === "CronJob" ? raw.spec?.jobTemplate?.spec?.template : raw.spec?.template;
  return {
    kind,
    name: raw.metadata!.name!,
    uid: raw.metadata!.uid!,
    optedIn: hasOptIn(template?.metadata?.labels),
    controller: controllerRef(raw.metadata),
  };
}

/** The kind that may control a ReplicaSet or a Job and so take its pods. */
const PARENT: Partial<Record<WorkloadKind, WorkloadKind>> = { ReplicaSet: "Deployment", Job: "CronJob" };
const POD_OWNERS: ReadonlySet<string> = new Set(["ReplicaSet", "StatefulSet", "DaemonSet", "Job"]);

/** A workload that stands for itself: not a ReplicaSet or Job that something controls. */
export function isTopLevel(w: WorkloadFact): boolean {
  return !PARENT[w.kind] || !w.controller;
}

/** The top-level workload a pod's controller chain leads to, by UID, regardless of labels. */
export function chainOwner(pod: V1Pod, byUid: Map<string, WorkloadFact>): WorkloadFact | undefined {
  const ref = controllerRef(pod.metadata);
  if (!ref || !POD_OWNERS.has(ref.kind)) return undefined;
  const owner = byUid.get(ref.uid);
  if (!owner || owner.kind !== ref.kind) return undefined;
  if (isTopLevel(owner)) return owner;
  const parentRef = owner.controller!;
  if (parentRef.kind !== PARENT[owner.kind]) return undefined;
  const parent = byUid.get(parentRef.uid);
  return parent && parent.kind === parentRef.kind ? parent : undefined;
}

export interface Expectation {
  serviceAccount: string;
  /** The opted-in workload this name belongs to now, if any. */
  owner?: WorkloadFact;
  /** A Role, RoleBinding or ServiceAccount of this name without podlogreader's label: the controller must leave it and grant nothing. */
  blocked: boolean;
  /** The Role of this name is without podlogreader's label: this ServiceAccount may read no pod at all. */
  roleForeign: boolean;
  /** Pods (by name) whose logs it must be able to read once settled. */
  mustRead: Set<string>;
  /** Pods whose controller chain leads to the owner: the only ones it may read. */
  mayRead: Set<string>;
}

export function indexByUid(s: Snapshot): Map<string, WorkloadFact> {
  return new Map(s.workloads.map((w) => [w.uid, w]));
}

/** Expectations for every name in `serviceAccounts` (plus each top-level workload's own name). */
export function expectations(
  s: Snapshot,
  serviceAccounts: Iterable<string>,
  nameOf: (kind: WorkloadKind, name: string) => string,
): Map<string, Expectation> {
  const byUid = indexByUid(s);
  const owners = new Map<string, WorkloadFact>();
  for (const w of s.workloads) if (isTopLevel(w) && w.optedIn) owners.set(nameOf(w.kind, w.name), w);
  const chainOf = new Map<string, { uid: string | undefined; member: boolean }>();
  for (const p of s.pods) {
    const owner = chainOwner(p, byUid);
    chainOf.set(p.metadata!.name!, { uid: owner?.uid, member: owner !== undefined && hasOptIn(p.metadata?.labels) });
  }
  const foreign = new Set(
    [...s.roles, ...s.roleBindings, ...s.serviceAccounts].filter((o) => !isManaged(o.metadata)).map((o) => o.metadata!.name!),
  );
  const foreignRoles = new Set(s.roles.filter((o) => !isManaged(o.metadata)).map((o) => o.metadata!.name!));
  const result = new Map<string, Expectation>();
  for (const sa of new Set([...serviceAccounts, ...owners.keys()])) {
    const owner = owners.get(sa);
    const blocked = foreign.has(sa);
    const roleForeign = foreignRoles.has(sa);
    const mayRead = new Set<string>();
    const mustRead = new Set<string>();
    for (const [pod, c] of chainOf) {
      if (!owner || c.uid !== owner.uid || roleForeign) continue;
      mayRead.add(pod);
      if (c.member && !blocked) mustRead.add(pod);
    }
    result.set(sa, { serviceAccount: sa, owner, blocked, roleForeign, mustRead, mayRead });
  }
  return result;
}

/** A managed object that should not exist: its workload is gone, opted out, or not the one it names. */
export interface Orphan {
  kind: string;
  name: string;
  workload: string;
  why: string;
}

export function orphans(s: Snapshot): Orphan[] {
  const out: Orphan[] = [];
  const topLevel = s.workloads.filter(isTopLevel);
  const check = (kind: string, meta: V1ObjectMeta | undefined) => {
    if (!isManaged(meta)) return;
    const ref = controllerRef(meta);
    const annotation = meta?.annotations?.[WORKLOAD_ANNOTATION];
    const [wKind, ...rest] = annotation ? annotation.split("/") : [ref?.kind, ref?.name];
    const wName = annotation ? rest.join("/") : ref?.name;
    const workload = `${wKind}/${wName}`;
    const w = topLevel.find((x) => x.kind === wKind && x.name === wName);
    const why = !w
      ? "its workload is gone"
      : !w.optedIn
        ? "its workload opted out"
        : ref && ref.uid !== w.uid
          ? `its owner UID ${ref.uid} is not the workload's ${w.uid}`
          : undefined;
    if (why) out.push({ kind, name: meta!.name!, workload, why });
  };
  for (const r of s.roles) check("Role", r.metadata);
  for (const b of s.roleBindings) check("RoleBinding", b.metadata);
  for (const a of s.serviceAccounts) check("ServiceAccount", a.metadata);
  return out;
}

/** A pod name listed by a managed Role's pod rule when no pod of that name exists. */
export interface StaleName {
  role: string;
  pod: string;
}

/** Every name a managed Role's pods or pods/log rule lists that no pod in the namespace has: a grant waiting for the name's next owner. */
export function staleNames(s: Snapshot): StaleName[] {
  const pods = new Set(s.pods.map((p) => p.metadata!.name!));
  const out: StaleName[] = [];
  for (const r of s.roles) {
    if (!isManaged(r.metadata)) continue;
    const listed = new Set(
      (r.rules ?? [])
        .filter((rule) => (rule.resources ?? []).some((x) => x === "pods" || x === "pods/log"))
        .flatMap((rule) => rule.resourceNames ?? []),
    );
    for (const pod of listed) if (!pods.has(pod)) out.push({ role: r.metadata!.name!, pod });
  }
  return out;
}

const grantsLogGet = (r: V1PolicyRule) =>
  (r.apiGroups ?? []).some((g) => g === "" || g === "*") &&
  (r.resources ?? []).some((x) => x === "pods/log" || x === "pods/*" || x === "*") &&
  r.verbs.some((v) => v === "get" || v === "*");

/** Managed Roles with a rule granting pod logs to every pod (resourceNames empty or missing). */
export function unboundedRoles(s: Snapshot): string[] {
  return s.roles
    .filter((r) => isManaged(r.metadata) && (r.rules ?? []).some((rule) => grantsLogGet(rule) && !rule.resourceNames?.length))
    .map((r) => r.metadata!.name!);
}

/**
 * What the Roles and RoleBindings seem to grant a ServiceAccount. Only a cheap guess used to know
 * when to ask the authorizer, and which pods to ask about while the run goes on; verdicts come
 * from SubjectAccessReview.
 */
export function predictedReadable(s: Snapshot, serviceAccount: string): { all: boolean; names: Set<string> } {
  const names = new Set<string>();
  let all = false;
  for (const b of s.roleBindings) {
    if (b.roleRef.kind !== "Role") continue;
    if (
      !(b.subjects ?? []).some(
        (x) => x.kind === "ServiceAccount" && x.name === serviceAccount && (x.namespace ?? s.namespace) === s.namespace,
      )
    )
      continue;
    const role = s.roles.find((r) => r.metadata?.name === b.roleRef.name);
    for (const rule of role?.rules ?? []) {
      if (!grantsLogGet(rule)) continue;
      if (!rule.resourceNames?.length) all = true;
      for (const n of rule.resourceNames ?? []) names.add(n);
    }
  }
  return { all, names };
}

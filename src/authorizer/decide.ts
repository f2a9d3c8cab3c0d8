// The webhook authorizer's decision, pure: a SubjectAccessReview, what the controller knows
// (workloads and pods by controller UID, the RoleBindings it keeps or issued) and what was read
// from the apiserver for this request, to Allow or NoOpinion. Never Deny: the apiserver's other
// authorizers (RBAC) keep everything they grant, and an error or anything unknown is NoOpinion.
import { boundSubjects, type BoundSubject } from "../access/grants.ts";
import type { Owned, Workload, World } from "../access/membership.ts";
import type { RoleBinding } from "../kube/objects.ts";
import type { Requirement, SubjectAccessReview } from "./review.ts";
import { narrowerThan, selectorString } from "../access/selector.ts";

export type Decision = { allowed: boolean; reason: string };
const allow = (reason: string): Decision => ({ allowed: true, reason });
const noOpinion = (reason: string): Decision => ({ allowed: false, reason });

/** A pod as read from the apiserver: who it is, its controller, and whether it carries the opt-in label. */
export interface PodFacts extends Owned {
  optedIn: boolean;
}

/** The requests the authorizer answers; everything else is NoOpinion without a look. */
export type Ask =
  | { kind: "pod"; namespace: string; name: string; user: string; groups: readonly string[] }
  | { kind: "pods"; namespace: string; requirements: readonly Requirement[]; selector: string; user: string; groups: readonly string[] };

/**
 * `get` of a pod or its log, by name; `list` or `watch` of pods with a label selector. In the core
 * group, in a namespace, for a named user.
 */
export function askOf(review: SubjectAccessReview): Ask | undefined {
  const a = review.spec.resourceAttributes;
  const user = review.spec.user ?? "";
  const groups = review.spec.groups ?? [];
  if (!a || !user || (a.group ?? "") !== "" || a.resource !== "pods" || !a.namespace) return undefined;
  const subresource = a.subresource ?? "";
  if (a.verb === "get" && a.name && (subresource === "" || subresource === "log")) {
    return { kind: "pod", namespace: a.namespace, name: a.name, user, groups };
  }
  if ((a.verb === "list" || a.verb === "watch") && subresource === "" && !a.name) {
    const requirements = a.labelSelector?.requirements ?? [];
    const selector = selectorString(requirements);
    if (requirements.length > 0 && selector) return { kind: "pods", namespace: a.namespace, requirements, selector, user, groups };
  }
  return undefined;
}

/** What the adapter read from the apiserver for one ask, just before deciding. */
export interface Evidence {
  /** The pod the ask names; undefined when it does not exist. */
  pod?: PodFacts;
  /** The pod's controller (a ReplicaSet or Job), read when the controller's caches do not hold it. */
  podController?: Workload;
  /** Every pod of the namespace that the ask's selector matches now. */
  matching?: readonly PodFacts[];
}

export interface View {
  world: Pick<World, "workloadOfPod" | "resolve" | "isManaged" | "managedWorkloads" | "get" | "jobNamesOf">;
  /** The RoleBindings of a namespace the controller keeps (managed) or issued (grants). */
  bindings(namespace: string): readonly RoleBinding[];
}

/** A binding podlogreader keeps, or a grant that has not expired; a foreign binding never counts. */
function counts(b: BoundSubject): boolean {
  return b.source.kind === "managed-service-account" || (b.source.kind === "grant" && !b.source.expired);
}

function names(b: BoundSubject["subject"], user: string, groups: readonly string[]): boolean {
  if (b.kind === "User") return b.name === user;
  if (b.kind === "Group") return groups.includes(b.name);
  if (b.kind === "ServiceAccount") return user === `system:serviceaccount:${b.namespace}:${b.name}`;
  return false;
}

/**
 * True when some binding the controller keeps or issued in the ask's namespace names the user or
 * one of its groups, whatever its Role or expiry. When false no decision can allow, so nothing is
 * read from the apiserver for it: a request from anyone else costs no read.
 */
export function namedByABinding(view: View, ask: Ask): boolean {
  return view.bindings(ask.namespace).some((b) =>
    (b.subjects ?? []).some((s) => {
      const namespace = s.kind === "ServiceAccount" ? s.namespace || b.metadata.namespace : undefined;
      return names({ kind: s.kind, name: s.name, ...(namespace ? { namespace } : {}) }, ask.user, ask.groups);
    }),
  );
}

/** True when the user, or one of its groups, is bound to `w`'s Role by a binding that counts. */
export function isBound(view: View, w: Workload, user: string, groups: readonly string[], nowMs: number): boolean {
  return boundSubjects(view.bindings(w.namespace), w, nowMs).some((b) => counts(b) && names(b.subject, user, groups));
}

/** The managed workload a pod belongs to, through the controller's caches or its controller as read. */
function workloadOf(view: View, pod: PodFacts, controller?: Workload): Workload | undefined {
  if (!pod.optedIn) return undefined;
  let w = view.world.workloadOfPod(pod);
  if (
    !w &&
    controller &&
    controller.uid === pod.controllerUid &&
    controller.kind === pod.controllerKind &&
    controller.namespace === pod.namespace
  ) {
    w = view.world.resolve(controller);
  }
  return w && view.world.isManaged(w) ? w : undefined;
}

const label = (w: Workload) => `${w.kind}/${w.name}`;

/** The selectors that say "this workload's pods": its own, and for a CronJob each of its Jobs'. */
function selectorsOf(view: View, w: Workload) {
  const jobs = view.world.jobNamesOf(w).map((name) => view.world.get("Job", w.namespace, name)?.selector);
  return [w.selector, ...jobs].filter((s) => s !== undefined);
}

export function decide(ask: Ask, evidence: Evidence, view: View, nowMs: number): Decision {
  if (ask.kind === "pod") {
    const pod = evidence.pod;
    if (!pod || pod.namespace !== ask.namespace || pod.name !== ask.name) return noOpinion(`pod ${ask.namespace}/${ask.name} not found`);
    const w = workloadOf(view, pod, evidence.podController);
    if (!w) return noOpinion(`pod ${ask.namespace}/${ask.name} belongs to no opted-in workload`);
    if (!isBound(view, w, ask.user, ask.groups, nowMs)) return noOpinion(`not bound to the Role of ${label(w)}`);
    return allow(`pod ${ask.name} belongs to ${label(w)}, whose Role binds the requester`);
  }
  const matching = evidence.matching;
  if (!matching) return noOpinion("the pods the selector matches are not known");
  for (const w of view.world.managedWorkloads()) {
    if (w.namespace !== ask.namespace) continue;
    if (!selectorsOf(view, w).some((s) => narrowerThan(ask.requirements, s))) continue;
    if (!isBound(view, w, ask.user, ask.groups, nowMs)) continue;
    const outsider = matching.find((p) => workloadOf(view, p)?.uid !== w.uid);
    if (outsider) return noOpinion(`selector ${ask.selector} also matches pod ${outsider.name}, which is not ${label(w)}'s`);
    return allow(`selector ${ask.selector} selects only pods of ${label(w)}, whose Role binds the requester`);
  }
  return noOpinion(`selector ${ask.selector} is not within a workload whose Role binds the requester`);
}

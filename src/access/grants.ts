// Grants: RoleBindings that `podlogreader grant` makes from a workload's managed Role to people,
// groups or ServiceAccounts, for a while and for a reason. Everything here is pure: who is bound
// to a workload's Role and why, how a grant is named and marked, and when it has expired.
import { createHash } from "node:crypto";
import type { ObjectMeta, RoleBinding } from "../kube/objects.ts";
import { isNamespaceName, isObjectName } from "../kube/names.ts";
import type { WorkloadKind } from "./kinds.ts";
import { WORKLOAD_ANNOTATION } from "./marks.ts";
import { managedName } from "./names.ts";
import { isManagedFor } from "./ownership.ts";

/**
 * The label every grant carries, and the one the controller watches. Not the managed-by label: a
 * grant is not an object the reconciler keeps in shape, and `cleanup` leaves it to garbage
 * collection through its ownerReference to the Role.
 */
export const GRANT_LABEL = "podlogreader.dev/grant";
export const GRANT_VALUE = "true";
export const GRANT_SELECTOR = `${GRANT_LABEL}=${GRANT_VALUE}`;
/** RFC 3339 UTC, e.g. 2026-12-04T18:00:00Z. */
export const EXPIRES_ANNOTATION = "podlogreader.dev/expires";
export const REASON_ANNOTATION = "podlogreader.dev/reason";
/** The user name the apiserver authenticated the granting request as (SelfSubjectReview). */
export const GRANTED_BY_ANNOTATION = "podlogreader.dev/granted-by";

const RBAC_GROUP = "rbac.authorization.k8s.io";

export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  /** ServiceAccounts only. */
  namespace?: string;
}

/** How a subject is written on the command line: `user:NAME`, `group:NAME`, `sa:NS/NAME`. */
export function formatSubject(s: { kind: string; name: string; namespace?: string | null }): string {
  if (s.kind === "User") return `user:${s.name}`;
  if (s.kind === "Group") return `group:${s.name}`;
  if (s.kind === "ServiceAccount") return `sa:${s.namespace ?? ""}/${s.name}`;
  return `${s.kind.toLowerCase()}:${s.name}`;
}

/**
 * Groups and users that stand for everyone (or every ServiceAccount) of the cluster or a
 * namespace. A grant to one of them would hand the logs to anyone.
 */
export function meansEveryone(s: Subject): boolean {
  if (s.kind === "Group") {
    return (
      ["system:authenticated", "system:unauthenticated", "system:serviceaccounts"].includes(s.name) ||
      s.name.startsWith("system:serviceaccounts:")
    );
  }
  return s.kind === "User" && s.name === "system:anonymous";
}

/** Parses `group:NAME`, `user:NAME` or `sa:NS/NAME`; the error says what is wrong, for a person. */
export function parseSubject(text: string): Subject | { error: string } {
  const colon = text.indexOf(":");
  const kind = colon < 0 ? "" : text.slice(0, colon);
  const name = text.slice(colon + 1);
  let subject: Subject;
  if (kind === "user" || kind === "group") {
    if (!name.trim() || name !== name.trim())
      return { error: `${JSON.stringify(text)}: the ${kind} name is empty or has spaces around it` };
    subject = { kind: kind === "user" ? "User" : "Group", name };
  } else if (kind === "sa") {
    const slash = name.indexOf("/");
    const namespace = name.slice(0, slash);
    const sa = name.slice(slash + 1);
    if (slash < 0 || !isNamespaceName(namespace) || !isObjectName(sa)) {
      return { error: `${JSON.stringify(text)}: a ServiceAccount is sa:NAMESPACE/NAME` };
    }
    subject = { kind: "ServiceAccount", namespace, name: sa };
  } else {
    return { error: `${JSON.stringify(text)} is not group:NAME, user:NAME or sa:NAMESPACE/NAME` };
  }
  if (meansEveryone(subject)) {
    const sa = subject.name.startsWith("system:serviceaccounts:")
      ? ` (every ServiceAccount of namespace ${subject.name.slice("system:serviceaccounts:".length)})`
      : subject.name === "system:serviceaccounts"
        ? " (every ServiceAccount)"
        : "";
    return { error: `${formatSubject(subject)} means everyone${sa}; grant to a person, a group of people or one ServiceAccount` };
  }
  return subject;
}

/** A subject as RBAC writes it in a RoleBinding. */
export function rbacSubject(s: Subject): { kind: string; name: string; apiGroup?: string; namespace?: string } {
  return s.kind === "ServiceAccount"
    ? { kind: s.kind, name: s.name, namespace: s.namespace }
    : { kind: s.kind, apiGroup: RBAC_GROUP, name: s.name };
}

const subjectKey = (s: { kind: string; name: string; namespace?: string | null }) => formatSubject(s);

/**
 * The name of the grant of `subjects` on a workload's Role: `<managed name>:grant-<10 hex>`, the
 * digits a hash of the sorted subjects. It contains ':', which no workload name and hence no
 * managed name can, so it never collides with the RoleBinding the controller keeps; granting the
 * same subjects again names the same binding (and renews it).
 */
export function grantName(kind: WorkloadKind, workloadName: string, subjects: readonly Subject[]): string {
  const keys = [...new Set(subjects.map(subjectKey))].sort();
  const hash = createHash("sha256").update(keys.join("\n")).digest("hex").slice(0, 10);
  return `${managedName(kind, workloadName)}:grant-${hash}`;
}

/** RFC 3339 UTC to the second, as Kubernetes writes times. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

export interface GrantRequest {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  subjects: readonly Subject[];
  /** The managed Role's uid: the grant's ownerReference, so garbage collection follows the Role. */
  roleUid: string;
  expiresAtMs: number;
  reason: string;
  grantedBy: string;
}

/** The RoleBinding a grant is. */
export function desiredGrant(req: GrantRequest) {
  const role = managedName(req.kind, req.name);
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: "RoleBinding",
    metadata: {
      name: grantName(req.kind, req.name, req.subjects),
      namespace: req.namespace,
      labels: { [GRANT_LABEL]: GRANT_VALUE },
      annotations: {
        [WORKLOAD_ANNOTATION]: `${req.kind}/${req.name}`,
        [EXPIRES_ANNOTATION]: rfc3339(req.expiresAtMs),
        [REASON_ANNOTATION]: req.reason,
        [GRANTED_BY_ANNOTATION]: req.grantedBy,
      },
      ownerReferences: [{ apiVersion: `${RBAC_GROUP}/v1`, kind: "Role", name: role, uid: req.roleUid }],
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name: role },
    subjects: req.subjects.map(rbacSubject),
  };
}

/** The workload a grant is for (`Kind/name` from its annotation), when it carries the grant label. */
export function grantWorkload(meta: ObjectMeta): string | undefined {
  if (meta.labels?.[GRANT_LABEL] !== GRANT_VALUE) return undefined;
  return meta.annotations?.[WORKLOAD_ANNOTATION] ?? undefined;
}

/**
 * True when a RoleBinding carries the grant marks: the grant label, and a roleRef to a Role that
 * its ownerReference names too. Only such bindings are ever renewed, expired or revoked.
 */
export function isGrant(binding: RoleBinding): boolean {
  const { metadata, roleRef } = binding;
  if (metadata.labels?.[GRANT_LABEL] !== GRANT_VALUE) return false;
  if (roleRef.kind !== "Role" || roleRef.apiGroup !== RBAC_GROUP) return false;
  return (metadata.ownerReferences ?? []).some((o) => o.kind === "Role" && o.apiVersion === `${RBAC_GROUP}/v1` && o.name === roleRef.name);
}

/** A grant of this workload: its marks, its workload annotation, and its Role the workload's. */
export function isGrantFor(binding: RoleBinding, workload: { kind: WorkloadKind; name: string }): boolean {
  return (
    isGrant(binding) &&
    grantWorkload(binding.metadata) === `${workload.kind}/${workload.name}` &&
    binding.roleRef.name === managedName(workload.kind, workload.name)
  );
}

/** The grants in `namespace` whose roleRef is the Role `roleName`: what a Role that cannot be fixed must stop being bound by. */
export function grantsBindingRole(bindings: readonly RoleBinding[], namespace: string, roleName: string): RoleBinding[] {
  return bindings.filter((b) => isGrant(b) && b.metadata.namespace === namespace && b.roleRef.name === roleName);
}

/** When the grant ends, in ms since the epoch; undefined when the annotation is missing or not a time. */
export function expiresAtMs(meta: ObjectMeta): number | undefined {
  const text = meta.annotations?.[EXPIRES_ANNOTATION];
  if (!text || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Whether a grant has ended at `nowMs`: at or after its expiry. A grant whose expiry cannot be
 * read has ended too: when unsure, grant less.
 */
export function isExpired(meta: ObjectMeta, nowMs: number): boolean {
  const at = expiresAtMs(meta);
  return at === undefined || nowMs >= at;
}

export type BindingSource =
  /** The RoleBinding the controller keeps for the workload's managed ServiceAccount. */
  | { kind: "managed-service-account" }
  | { kind: "grant"; expires?: string; expired: boolean; reason?: string; grantedBy?: string }
  /** Bound by someone else, by hand or by another tool. */
  | { kind: "foreign" };

export interface BoundSubject {
  subject: { kind: string; name: string; namespace?: string };
  binding: { name: string; uid: string; resourceVersion: string };
  source: BindingSource;
}

/**
 * Who is bound to a workload's managed Role, from the RoleBindings of its namespace: each subject
 * of each binding whose roleRef is that Role, with where the binding came from. A ServiceAccount
 * subject without a namespace is in the binding's namespace, as RBAC reads it.
 */
export function boundSubjects(
  bindings: readonly RoleBinding[],
  workload: { kind: WorkloadKind; name: string },
  nowMs: number,
): BoundSubject[] {
  const role = managedName(workload.kind, workload.name);
  const out: BoundSubject[] = [];
  for (const b of bindings) {
    if (b.roleRef.kind !== "Role" || b.roleRef.apiGroup !== RBAC_GROUP || b.roleRef.name !== role) continue;
    const source = sourceOf(b, workload, role, nowMs);
    const { name, uid, resourceVersion } = b.metadata;
    for (const s of b.subjects ?? []) {
      const namespace = s.kind === "ServiceAccount" ? s.namespace || b.metadata.namespace : undefined;
      out.push({
        subject: { kind: s.kind, name: s.name, ...(namespace ? { namespace } : {}) },
        binding: { name, uid, resourceVersion },
        source,
      });
    }
  }
  return out;
}

function sourceOf(b: RoleBinding, workload: { kind: WorkloadKind; name: string }, role: string, nowMs: number): BindingSource {
  if (b.metadata.name === role && isManagedFor(b.metadata, workload)) return { kind: "managed-service-account" };
  if (!isGrantFor(b, workload)) return { kind: "foreign" };
  const at = expiresAtMs(b.metadata);
  const a = b.metadata.annotations ?? {};
  return {
    kind: "grant",
    ...(at !== undefined ? { expires: rfc3339(at) } : {}),
    expired: isExpired(b.metadata, nowMs),
    ...(a[REASON_ANNOTATION] ? { reason: a[REASON_ANNOTATION] } : {}),
    ...(a[GRANTED_BY_ANNOTATION] ? { grantedBy: a[GRANTED_BY_ANNOTATION] } : {}),
  };
}

/**
 * What revoking `subject` from a grant does: delete the binding when it is the only subject,
 * otherwise keep the others; nothing when the grant does not name it.
 */
export function revokeFrom(
  binding: RoleBinding,
  subject: Subject,
): { action: "delete" } | { action: "keep-others"; subjects: NonNullable<RoleBinding["subjects"]> } | { action: "none" } {
  const key = formatSubject(subject);
  const subjects = binding.subjects ?? [];
  const rest = subjects.filter(
    (s) =>
      formatSubject({ ...s, namespace: s.kind === "ServiceAccount" ? s.namespace || binding.metadata.namespace : s.namespace }) !== key,
  );
  if (rest.length === subjects.length) return { action: "none" };
  return rest.length === 0 ? { action: "delete" } : { action: "keep-others", subjects: rest };
}

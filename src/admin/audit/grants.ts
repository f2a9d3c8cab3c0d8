// Bindings to people on the audit's side: grants past their expiry, grants that bind anything but
// the managed Role of the workload they name, and bindings to a managed Role that podlogreader did
// not issue. Pure. This is about bindings, not membership, so it reads the same grant marks the
// grant command and the controller use (src/access/grants.ts): a grant is what carries them, and
// who is bound to a managed Role is `boundSubjects`, not worked out a second time here.
import {
  boundSubjects,
  expiresAtMs,
  formatSubject,
  GRANT_LABEL,
  GRANT_VALUE,
  grantWorkload,
  isExpired,
  isGrant,
  isGrantFor,
  rfc3339,
} from "../../access/grants.ts";
import { isWorkloadKind } from "../../access/kinds.ts";
import { managedName } from "../../access/names.ts";
import { isManagedFor, managedOwner } from "../../access/ownership.ts";
import type { ObjectMeta, RoleBinding } from "../../kube/objects.ts";
import { parseWorkloadRef } from "../../access/workload-ref.ts";
import { finding, LOG_PERMISSION, type Finding } from "./findings.ts";
import { describeBinding } from "./rbac.ts";

export interface GrantInput {
  /** The RoleBindings in scope, whole. */
  roleBindings: readonly RoleBinding[];
  /** The Roles in scope, metadata only. */
  roles: readonly { metadata: ObjectMeta }[];
}

const hasGrantLabel = (b: RoleBinding) => b.metadata.labels?.[GRANT_LABEL] === GRANT_VALUE;
const key = (namespace: string, name: string) => `${namespace}/${name}`;

function subjectsOf(b: RoleBinding): string[] {
  return (b.subjects ?? []).map((s) =>
    formatSubject({ ...s, namespace: s.kind === "ServiceAccount" ? s.namespace || b.metadata.namespace : s.namespace }),
  );
}

const bindingText = (b: RoleBinding) =>
  describeBinding({
    kind: "RoleBinding",
    namespace: b.metadata.namespace,
    name: b.metadata.name,
    role: `${b.roleRef.kind} ${b.roleRef.name}`,
  });

/**
 * Why a binding with the grant label is not a grant of the workload it names, for a person; undefined
 * when it is one (its marks say so, by `isGrantFor`, and its Role, if present, is podlogreader's for
 * that workload).
 */
export function misdirection(b: RoleBinding, roleMeta: ObjectMeta | undefined): string | undefined {
  const { roleRef } = b;
  const bound = `${roleRef.kind} ${roleRef.name}`;
  const workload = parseWorkloadRef(grantWorkload(b.metadata) ?? "");
  if (roleRef.kind !== "Role") return `binds ${bound}, not a Role podlogreader manages`;
  if (!workload) return `names no workload (annotation podlogreader.dev/workload), and binds ${bound}`;
  const w = `${workload.kind}/${workload.name}`;
  const role = managedName(workload.kind, workload.name);
  if (roleMeta && !isManagedFor(roleMeta, workload)) return `binds ${bound}, which podlogreader did not make for ${w}`;
  if (isGrantFor(b, workload)) return undefined;
  if (roleRef.name !== role) return `binds ${bound}, not ${w}'s Role ${role}`;
  if (!isGrant(b)) return `binds ${bound} without an ownerReference to it: the controller will never end it`;
  return `does not carry the marks of a grant of ${w}`;
}

export function grantFindings(input: GrantInput, nowMs: number): Finding[] {
  const roles = new Map(input.roles.map((r) => [key(r.metadata.namespace, r.metadata.name), r.metadata]));
  const findings: Finding[] = [];
  for (const b of input.roleBindings) {
    if (!hasGrantLabel(b)) continue;
    const namespace = b.metadata.namespace;
    const workload = parseWorkloadRef(grantWorkload(b.metadata) ?? "");
    const base = {
      namespace,
      serviceAccount: workload ? managedName(workload.kind, workload.name) : "",
      workload: workload ? `${workload.kind}/${workload.name}` : "unknown",
      scope: namespace,
      source: "binding" as const,
      grantedBy: [bindingText(b)],
      subjects: subjectsOf(b),
    };
    const why = misdirection(b, b.roleRef.kind === "Role" ? roles.get(key(namespace, b.roleRef.name)) : undefined);
    if (why) findings.push(finding({ ...base, kind: "misdirected-grant", permission: `${b.roleRef.kind} ${b.roleRef.name}`, detail: why }));
    else if (isExpired(b.metadata, nowMs)) {
      const at = expiresAtMs(b.metadata);
      findings.push(
        finding({
          ...base,
          kind: "expired-grant",
          permission: LOG_PERMISSION,
          detail: at === undefined ? "has no readable expiry" : `expired at ${rfc3339(at)}`,
        }),
      );
    }
  }
  // Bindings with the grant label were judged above, whatever Role they bind.
  const others = input.roleBindings.filter((b) => !hasGrantLabel(b));
  for (const r of input.roles) {
    const owner = managedOwner(r.metadata);
    if (!owner || !isWorkloadKind(owner.kind)) continue;
    const workload = { kind: owner.kind, name: owner.name };
    if (r.metadata.name !== managedName(workload.kind, workload.name) || !isManagedFor(r.metadata, workload)) continue;
    const namespace = r.metadata.namespace;
    const foreign = boundSubjects(
      others.filter((b) => b.metadata.namespace === namespace),
      workload,
      nowMs,
    ).filter((s) => s.source.kind === "foreign");
    for (const name of new Set(foreign.map((s) => s.binding.name))) {
      const b = others.find((x) => x.metadata.namespace === namespace && x.metadata.name === name)!;
      findings.push(
        finding({
          namespace,
          serviceAccount: r.metadata.name,
          workload: `${workload.kind}/${workload.name}`,
          scope: namespace,
          source: "binding",
          kind: "unissued-binding",
          permission: LOG_PERMISSION,
          grantedBy: [bindingText(b)],
          subjects: foreign.filter((s) => s.binding.name === name).map((s) => formatSubject(s.subject)),
        }),
      );
    }
  }
  return findings;
}

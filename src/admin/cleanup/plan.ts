// What `podlogreader cleanup` removes, in which order, and what it leaves alone: decided from the
// listed objects alone, with no I/O.
import type { ObjectMeta, RoleBinding } from "../../kube/objects.ts";
import { RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../kube/resources.ts";
import { looksLikePodlogreaders, madeByPodlogreader } from "./made-by.ts";

export type CleanupKind = "RoleBinding" | "Role" | "ServiceAccount";

/** Bindings first, so no ServiceAccount stays bound while the Role it is bound to goes; ServiceAccounts last. */
export const CLEANUP_ORDER: readonly CleanupKind[] = ["RoleBinding", "Role", "ServiceAccount"];

export const CLEANUP_RESOURCES: Record<CleanupKind, ResourceType> = {
  RoleBinding: RoleBindings,
  Role: Roles,
  ServiceAccount: ServiceAccounts,
};

/** A listed object; a RoleBinding also carries what it binds. */
export type Found = { kind: "Role" | "ServiceAccount"; metadata: ObjectMeta } | ({ kind: "RoleBinding" } & RoleBinding);

/** An object to delete, exactly in the version that was judged: its uid and resourceVersion. */
export interface Target {
  kind: CleanupKind;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  /** The workload it was made for, `Kind/name`. */
  workload: string;
}

export interface LeftAlone {
  kind: string;
  namespace: string;
  name: string;
  why: string;
}

export interface Plan {
  targets: Record<CleanupKind, Target[]>;
  leftAlone: LeftAlone[];
  /** Bindings podlogreader did not make that name something this cleanup removes. */
  warnings: string[];
}

const byPlace = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
  a.namespace === b.namespace ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.namespace < b.namespace ? -1 : 1;

export function planCleanup(found: readonly Found[]): Plan {
  const targets: Plan["targets"] = { RoleBinding: [], Role: [], ServiceAccount: [] };
  const leftAlone: LeftAlone[] = [];
  const foreignBindings: RoleBinding[] = [];
  for (const object of found) {
    const { metadata: m } = object;
    const verdict = madeByPodlogreader(m);
    if (verdict.made) {
      targets[object.kind].push({
        kind: object.kind,
        namespace: m.namespace,
        name: m.name,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
        workload: `${verdict.workload.kind}/${verdict.workload.name}`,
      });
      continue;
    }
    if (object.kind === "RoleBinding") foreignBindings.push(object);
    if (looksLikePodlogreaders(m))
      leftAlone.push({ kind: object.kind, namespace: m.namespace, name: m.name, why: `not made by podlogreader: ${verdict.why}` });
  }
  for (const list of Object.values(targets)) list.sort(byPlace);
  leftAlone.sort((a, b) => byPlace(a, b) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  return { targets, leftAlone, warnings: danglingBindings(foreignBindings, targets) };
}

/**
 * Bindings that stay and name a removed ServiceAccount or Role. Such a binding grants nothing
 * once they are gone, but it grants again to whatever takes the name next, so its owner is told.
 */
function danglingBindings(bindings: readonly RoleBinding[], targets: Plan["targets"]): string[] {
  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const accounts = new Set(targets.ServiceAccount.map((t) => key(t.namespace, t.name)));
  const roles = new Set(targets.Role.map((t) => key(t.namespace, t.name)));
  const warnings: string[] = [];
  for (const b of [...bindings].sort((x, y) => byPlace(x.metadata, y.metadata))) {
    const where = `RoleBinding ${b.metadata.namespace}/${b.metadata.name}, which podlogreader did not make,`;
    for (const s of b.subjects ?? []) {
      const account = key(s.namespace || b.metadata.namespace, s.name);
      if (s.kind === "ServiceAccount" && accounts.has(account)) {
        warnings.push(
          `${where} binds ServiceAccount ${account}, which is removed; a ServiceAccount created later under that name gets what it grants`,
        );
      }
    }
    const role = key(b.metadata.namespace, b.roleRef.name);
    if (b.roleRef.kind === "Role" && roles.has(role)) {
      warnings.push(`${where} refers to Role ${role}, which is removed; a Role created later under that name is granted through it`);
    }
  }
  return warnings;
}

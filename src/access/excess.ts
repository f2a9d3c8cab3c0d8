// Whether the live Role and RoleBinding of a workload grant more than they may, and what
// podlogreader can still do about it. Pure: it judges objects as they were read back from the
// apiserver, never by the status code of a write that failed.
import type { PolicyRule, Role, RoleBinding } from "../kube/objects.ts";
import type { Workload } from "./membership.ts";
import { isManagedFor } from "./ownership.ts";

export interface Subject {
  kind: string;
  name: string;
  namespace?: string | null;
}

/** What may stay granted: the desired Role's rules to the desired subjects. Nothing, when access is removed. */
export interface Allowed {
  rules: readonly PolicyRule[];
  subjects: readonly Subject[];
}

export const NOTHING: Allowed = { rules: [], subjects: [] };

/** The live objects of the workload's managed name, as read back; undefined when absent. */
export interface LiveAccess {
  role?: Role;
  binding?: RoleBinding;
}

/**
 * The ways out, each a write podlogreader may make because the object carries its marks:
 * - shrinkRole: update the Role to `shrunk`, which only removes what it grants;
 * - emptyBinding: update the RoleBinding to bind no subject (allowed where deleting is not);
 * - deleteRole, deleteBinding.
 */
export type Step = "shrinkRole" | "emptyBinding" | "deleteRole" | "deleteBinding";

export type Verdict = { overGrants: false } | { overGrants: true; why: string; steps: Step[]; shrunk: PolicyRule[] };

/** One permission: a verb on a resource of an API group, on one name or (`*`) on every name. */
interface Grant {
  group: string;
  resource: string;
  verb: string;
  name: string;
}

const ANY_NAME = "*";

function grantsOf(rules: readonly PolicyRule[] | null | undefined): Grant[] {
  const grants: Grant[] = [];
  for (const r of rules ?? []) {
    const names = r.resourceNames?.length ? r.resourceNames : [ANY_NAME];
    for (const group of r.apiGroups ?? [])
      for (const resource of r.resources ?? [])
        for (const verb of r.verbs) for (const name of names) grants.push({ group, resource, verb, name });
  }
  return grants;
}

/** True when `rules` allow `g`. A wildcard in the grant itself is covered only by a wildcard. */
function covered(g: Grant, rules: readonly PolicyRule[]): boolean {
  const has = (list: readonly string[] | null | undefined, v: string) => !!list && (list.includes(v) || list.includes("*"));
  return rules.some(
    (r) =>
      has(r.apiGroups, g.group) &&
      has(r.resources, g.resource) &&
      has(r.verbs, g.verb) &&
      (!r.resourceNames?.length || (g.name !== ANY_NAME && r.resourceNames.includes(g.name))),
  );
}

/** What `rules` grant beyond `allowed`. */
export function excessGrants(rules: readonly PolicyRule[] | null | undefined, allowed: readonly PolicyRule[]): Grant[] {
  return grantsOf(rules).filter((g) => !covered(g, allowed));
}

/**
 * The allowed rules cut down to what the live Role already grants: written over the live Role it
 * only removes, so a policy that refuses growth lets it through. A rule left with no names is
 * dropped, never written with an empty resourceNames (which would grant every name).
 */
export function shrinkRules(allowed: readonly PolicyRule[], live: readonly PolicyRule[] | null | undefined): PolicyRule[] {
  const liveRules = live ?? [];
  const grantedByLive = (r: PolicyRule) => grantsOf([r]).every((g) => covered(g, liveRules));
  return allowed.flatMap((rule) => {
    if (!rule.resourceNames?.length) return grantedByLive(rule) ? [rule] : [];
    const names = rule.resourceNames.filter((n) => grantedByLive({ ...rule, resourceNames: [n] }));
    return names.length > 0 ? [{ ...rule, resourceNames: names }] : [];
  });
}

const sameSubject = (a: Subject, b: Subject) => a.kind === b.kind && a.name === b.name && (a.namespace ?? "") === (b.namespace ?? "");

/**
 * Judges the live Role and RoleBinding of `name` against what may be granted. They grant too much
 * when the Role grants anything the allowed rules do not (whoever binds it: people may bind
 * podlogreader's Role themselves), or when the binding has subjects and
 * - it binds another Role than the one of this name, or one that is absent (whoever creates it
 *   next decides what it grants), or one that is not podlogreader's for this workload; or
 * - a subject is not allowed, and the Role grants anything.
 * The steps are the ways out that remain, in the order to try them; each is only offered on an
 * object with podlogreader's marks for the workload. Where the Role may stay, it is shrunk first,
 * which keeps what may; where a subject is the trouble the binding goes first; a binding of a Role
 * that is absent or not podlogreader's is of no use, so it is deleted before it is emptied.
 */
export function judge(live: LiveAccess, allowed: Allowed, workload: Pick<Workload, "kind" | "name">, name: string): Verdict {
  const { role, binding } = live;
  const subjects = binding?.subjects ?? [];
  const roleIsOurs = !!role && isManagedFor(role.metadata, workload);
  const bindsThisRole = !!binding && binding.roleRef.kind === "Role" && binding.roleRef.name === name;
  const strangers = subjects.some((s) => !allowed.subjects.some((a) => sameSubject(a, s)));

  let why: string | undefined;
  if (binding && subjects.length > 0) {
    if (!bindsThisRole) why = `RoleBinding ${binding.metadata.name} binds ${binding.roleRef.kind} ${binding.roleRef.name}`;
    else if (!role) why = `RoleBinding ${binding.metadata.name} binds Role ${name}, which is absent`;
    else if (!roleIsOurs) why = `RoleBinding ${binding.metadata.name} binds Role ${name}, which is not podlogreader's`;
    else if (strangers && grantsOf(role.rules).length > 0)
      why = `RoleBinding ${binding.metadata.name} binds a subject that may not be bound`;
  }
  const roleExcess = roleOverGrants(live, allowed, workload);
  if (!why && roleExcess) why = `Role ${name} grants more than it should`;
  if (!why) return { overGrants: false };

  const roleUsable = roleIsOurs && bindsThisRole;
  const bindingSteps: Step[] =
    binding && subjects.length > 0 && isManagedFor(binding.metadata, workload)
      ? roleUsable
        ? ["emptyBinding", "deleteBinding"]
        : ["deleteBinding", "emptyBinding"]
      : [];
  const roleSteps: Step[] = roleIsOurs && (roleUsable || roleExcess) ? ["shrinkRole", "deleteRole"] : [];
  const bound = bindingSteps.length > 0 && strangers;
  const steps: Step[] =
    bound || !roleUsable
      ? [...bindingSteps, ...roleSteps]
      : ["shrinkRole", ...bindingSteps.slice(0, 1), "deleteRole", ...bindingSteps.slice(1)];
  // While subjects that may not be bound are bound, the Role can only help by granting nothing.
  const shrunk = roleIsOurs && !(strangers && subjects.length > 0) ? shrinkRules(allowed.rules, role!.rules) : [];
  return { overGrants: true, why, steps, shrunk };
}

/**
 * The workload's own Role grants more than it may. Every binding of it then grants too much,
 * podlogreader's grants to people included, until the Role is shrunk or deleted.
 */
export function roleOverGrants(live: LiveAccess, allowed: Allowed, workload: Pick<Workload, "kind" | "name">): boolean {
  const { role } = live;
  return !!role && isManagedFor(role.metadata, workload) && excessGrants(role.rules, allowed.rules).length > 0;
}

/**
 * A binding of podlogreader's that binds nobody and whose Role is absent or not podlogreader's
 * has no use left; deleting it is tidying, not a way out.
 */
export function isIdleBinding(live: LiveAccess, workload: Pick<Workload, "kind" | "name">): boolean {
  const { role, binding } = live;
  return (
    !!binding &&
    isManagedFor(binding.metadata, workload) &&
    (binding.subjects ?? []).length === 0 &&
    (!role || !isManagedFor(role.metadata, workload))
  );
}

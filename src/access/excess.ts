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

export type Verdict =
  | { overGrants: false }
  | { overGrants: true; why: string; steps: Step[]; shrunk: PolicyRule[] };

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
    for (const group of r.apiGroups ?? []) for (const resource of r.resources ?? []) for (const verb of r.verbs) for (const name of names) grants.push({ group, resource, verb, name });
  }
  return grants;
}

/** True when `rules` allow `g`. A wildcard in the grant itself is covered only by a wildcard. */
function covered(g: Grant, rules: readonly PolicyRule[]): boolean {
  const has = (list: readonly string[] | null | undefined, v: string) => !!list && (list.includes(v) || list.includes("*"));
  return rules.some((r) =>
    has(r.apiGroups, g.group) && has(r.resources, g.resource) && has(r.verbs, g.verb) &&
    (!r.resourceNames?.length || (g.name !== ANY_NAME && r.resourceNames.includes(g.name))));
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
 * Judges the live Role and RoleBinding of `name` against what may be granted. Through the binding
 * (when it has subjects) they grant too much when
 * - it binds another Role than the one of this name, or one that is absent (whoever creates it
 *   next decides what it grants), or one that is not podlogreader's for this workload; or
 * - a subject is not allowed, and the Role grants anything; or
 * - the Role grants anything the allowed rules do not.
 * With `boundByOthers` (no binding is podlogreader's: people bind the Role themselves) the Role
 * alone grants too much when it grants anything the allowed rules do not.
 * The steps are the ways out that remain, in the order to try them; each is only offered on an
 * object with podlogreader's marks for the workload. When a subject is the trouble the binding
 * goes first; otherwise the Role is shrunk first, which keeps what may stay.
 */
export function judge(live: LiveAccess, allowed: Allowed, workload: Pick<Workload, "kind" | "name">, name: string, boundByOthers = false): Verdict {
  const { role, binding } = live;
  const subjects = binding?.subjects ?? [];
  const roleIsOurs = !!role && isManagedFor(role.metadata, workload);
  const roleExcess = roleIsOurs && excessGrants(role.rules, allowed.rules).length > 0;
  const roleSteps: Step[] = ["shrinkRole", "deleteRole"];
  const shrunk = (strangers: boolean) => (roleIsOurs && !strangers ? shrinkRules(allowed.rules, role!.rules) : []);

  if (!binding || subjects.length === 0) {
    if (boundByOthers && roleExcess) return { overGrants: true, why: `Role ${name} grants more than it should`, steps: roleSteps, shrunk: shrunk(false) };
    return { overGrants: false };
  }
  const bindsThisRole = binding.roleRef.kind === "Role" && binding.roleRef.name === name;
  const strangers = subjects.some((s) => !allowed.subjects.some((a) => sameSubject(a, s)));
  let why: string | undefined;
  if (!bindsThisRole) why = `RoleBinding ${binding.metadata.name} binds ${binding.roleRef.kind} ${binding.roleRef.name}`;
  else if (!role) why = `RoleBinding ${binding.metadata.name} binds Role ${name}, which is absent`;
  else if (!roleIsOurs) why = `RoleBinding ${binding.metadata.name} binds Role ${name}, which is not podlogreader's`;
  else if (strangers && grantsOf(role.rules).length > 0) why = `RoleBinding ${binding.metadata.name} binds a subject that may not be bound`;
  else if (roleExcess && (!strangers || boundByOthers)) why = `Role ${name} grants more than it should`;
  if (!why) return { overGrants: false };

  const bindingSteps: Step[] = isManagedFor(binding.metadata, workload) ? ["emptyBinding", "deleteBinding"] : [];
  const ours: Step[] = roleIsOurs && (bindsThisRole || boundByOthers) ? roleSteps : [];
  const steps: Step[] = strangers || !bindsThisRole || !roleIsOurs
    ? [...bindingSteps, ...ours]
    : ["shrinkRole", ...bindingSteps.slice(0, 1), "deleteRole", ...bindingSteps.slice(1)];
  return { overGrants: true, why, steps, shrunk: shrunk(strangers) };
}

// RBAC objects as the audit reads them, and the pure rules by which a binding reaches a
// ServiceAccount and a rule matches a request. The authorizer decides what is allowed; these only
// name which binding grants it, and which resource names are worth asking about.
import * as v from "valibot";
import { getOrCreate } from "../../util/maps.ts";

const StringMap = v.optional(v.nullable(v.record(v.string(), v.string())));
const Meta = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  namespace: v.optional(v.nullable(v.string())),
  labels: StringMap,
});

const PolicyRule = v.object({
  apiGroups: v.optional(v.nullable(v.array(v.string()))),
  resources: v.optional(v.nullable(v.array(v.string()))),
  verbs: v.array(v.string()),
  resourceNames: v.optional(v.nullable(v.array(v.string()))),
});
export type PolicyRule = v.InferOutput<typeof PolicyRule>;

export const RbacRole = v.object({ metadata: Meta, rules: v.optional(v.nullable(v.array(PolicyRule))) });
export type RbacRole = v.InferOutput<typeof RbacRole>;

const Subject = v.object({
  kind: v.string(),
  name: v.string(),
  namespace: v.optional(v.nullable(v.string())),
});
export type Subject = v.InferOutput<typeof Subject>;

export const RbacBinding = v.object({
  metadata: Meta,
  roleRef: v.object({ kind: v.string(), name: v.string() }),
  subjects: v.optional(v.nullable(v.array(Subject))),
});
export type RbacBinding = v.InferOutput<typeof RbacBinding>;

/** Every Role, ClusterRole, RoleBinding and ClusterRoleBinding of the cluster. */
export interface RbacState {
  roles: RbacRole[];
  clusterRoles: RbacRole[];
  roleBindings: RbacBinding[];
  clusterRoleBindings: RbacBinding[];
}

/** What is asked of the authorizer, as in a SubjectAccessReview's resourceAttributes. */
export interface Request {
  /** Empty for a cluster-wide request or a cluster-scoped resource. */
  namespace: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  /** A list's label selector, as `key=value` pairs; RBAC ignores it, other authorizers may not. */
  labelSelector?: Record<string, string>;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** The groups the apiserver puts every ServiceAccount token in. */
export function serviceAccountGroups(namespace: string): string[] {
  return ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"];
}

export const serviceAccountUser = (sa: ServiceAccountRef) => `system:serviceaccount:${sa.namespace}:${sa.name}`;

/** Whether one of the binding's subjects is the ServiceAccount, as itself, as its user name, or through a group it is in. */
export function bindingCovers(binding: RbacBinding, sa: ServiceAccountRef): boolean {
  const groups = serviceAccountGroups(sa.namespace);
  return (binding.subjects ?? []).some((s) => {
    if (s.kind === "ServiceAccount") return s.name === sa.name && (s.namespace ?? binding.metadata.namespace) === sa.namespace;
    if (s.kind === "User") return s.name === serviceAccountUser(sa);
    if (s.kind === "Group") return groups.includes(s.name);
    return false;
  });
}

/** RBAC's own matching (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac: RuleAllows). */
export function ruleAllows(rule: PolicyRule, req: Request): boolean {
  const has = (list: readonly string[] | null | undefined, x: string) => (list ?? []).includes("*") || (list ?? []).includes(x);
  if (!has(rule.verbs, req.verb) || !has(rule.apiGroups, req.group)) return false;
  const resources = rule.resources ?? [];
  const combined = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const resourceOk =
    resources.includes("*") || resources.includes(combined) || (!!req.subresource && resources.includes(`*/${req.subresource}`));
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (!!req.name && names.includes(req.name));
}

export interface BindingRef {
  kind: "RoleBinding" | "ClusterRoleBinding";
  namespace?: string;
  name: string;
  role: string;
}

export const describeBinding = (b: BindingRef) => `${b.kind} ${b.namespace ? `${b.namespace}/` : ""}${b.name} (${b.role})`;

interface RbacIndex {
  clusterRole: Map<string, RbacRole>;
  role: Map<string, RbacRole>;
  roleBindingsIn: Map<string, RbacBinding[]>;
}
const indexes = new WeakMap<RbacState, RbacIndex>();

/** Lookups by name and namespace, built once per state read. */
function indexOf(rbac: RbacState): RbacIndex {
  let index = indexes.get(rbac);
  if (!index) {
    const roleBindingsIn = new Map<string, RbacBinding[]>();
    for (const b of rbac.roleBindings) {
      const ns = b.metadata.namespace ?? "";
      getOrCreate(roleBindingsIn, ns, () => []).push(b);
    }
    index = {
      clusterRole: new Map(rbac.clusterRoles.map((r) => [r.metadata.name, r])),
      role: new Map(rbac.roles.map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r])),
      roleBindingsIn,
    };
    indexes.set(rbac, index);
  }
  return index;
}

/** The bindings reaching `sa` that apply to requests in `namespace` ("" for cluster-wide), each with its role's rules. */
export function bindingsFor(rbac: RbacState, sa: ServiceAccountRef, namespace: string): { ref: BindingRef; rules: PolicyRule[] }[] {
  const { clusterRole, role, roleBindingsIn } = indexOf(rbac);
  const out: { ref: BindingRef; rules: PolicyRule[] }[] = [];
  for (const b of rbac.clusterRoleBindings) {
    if (b.roleRef.kind !== "ClusterRole" || !bindingCovers(b, sa)) continue;
    out.push({
      ref: { kind: "ClusterRoleBinding", name: b.metadata.name, role: `ClusterRole ${b.roleRef.name}` },
      rules: clusterRole.get(b.roleRef.name)?.rules ?? [],
    });
  }
  if (namespace) {
    for (const b of roleBindingsIn.get(namespace) ?? []) {
      if (!bindingCovers(b, sa)) continue;
      const target =
        b.roleRef.kind === "ClusterRole"
          ? clusterRole.get(b.roleRef.name)
          : b.roleRef.kind === "Role"
            ? role.get(`${namespace}/${b.roleRef.name}`)
            : undefined;
      out.push({
        ref: { kind: "RoleBinding", namespace, name: b.metadata.name, role: `${b.roleRef.kind} ${b.roleRef.name}` },
        rules: target?.rules ?? [],
      });
    }
  }
  return out;
}

/** The bindings whose role has a rule matching the request: what grants it, as far as RBAC objects tell. */
export function grantingBindings(rbac: RbacState, sa: ServiceAccountRef, req: Request): BindingRef[] {
  return bindingsFor(rbac, sa, req.namespace)
    .filter((b) => b.rules.some((r) => ruleAllows(r, req)))
    .map((b) => b.ref);
}

/** Namespaces other than the ServiceAccount's own in which a RoleBinding reaches it. */
export function namespacesReached(rbac: RbacState, sa: ServiceAccountRef): string[] {
  const set = new Set<string>();
  for (const b of rbac.roleBindings) {
    const ns = b.metadata.namespace;
    if (ns && ns !== sa.namespace && bindingCovers(b, sa)) set.add(ns);
  }
  return [...set].sort();
}

/**
 * Resource names that rules bound to `sa` in `namespace` single out for the request's verb and
 * resource: the only individual names worth asking the authorizer about beyond the workload's own
 * (a rule without names is caught by asking about a name no object has).
 */
export function namedInRules(rbac: RbacState, sa: ServiceAccountRef, req: Omit<Request, "name">): string[] {
  const names = new Set<string>();
  for (const b of bindingsFor(rbac, sa, req.namespace)) {
    for (const r of b.rules) for (const n of r.resourceNames ?? []) if (ruleAllows(r, { ...req, name: n })) names.add(n);
  }
  return [...names].sort();
}

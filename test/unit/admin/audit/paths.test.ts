// What the audit asks the authorizer about the other paths, judged against a model of RBAC: every
// permission that lets a managed ServiceAccount act as another identity is asked about in a way
// the holder's rules answer "yes" to, whatever wildcards or names they use.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { roleRules } from "../../../../src/access/desired.ts";
import { OTHER_PATHS, WORKLOAD_RESOURCES, otherPathRequests, permissionText, type OtherPath } from "../../../../src/admin/audit/paths.ts";
import {
  bindingsFor,
  namespacesReached,
  ruleAllows,
  type PolicyRule,
  type RbacState,
  type Request,
  type ServiceAccountRef,
} from "../../../../src/admin/audit/rbac.ts";

const sa: ServiceAccountRef = { namespace: "shop", name: "podlogreader-web" };

/** RBAC as the apiserver decides it: a binding that applies where the request is made, with a rule that matches. */
const rbacAllows = (rbac: RbacState) => (req: Request) =>
  bindingsFor(rbac, sa, req.namespace).some((b) => b.rules.some((r) => ruleAllows(r, req)));

/** One Role in the ServiceAccount's namespace, bound to it; and optionally one ClusterRole bound cluster-wide. */
function bound(rules: PolicyRule[], clusterRules: PolicyRule[] = [], roleNamespace = sa.namespace): RbacState {
  const subjects = [{ kind: "ServiceAccount", name: sa.name, namespace: sa.namespace }];
  return {
    roles: [{ metadata: { name: "deployer", namespace: roleNamespace }, rules }],
    clusterRoles: [{ metadata: { name: "wide" }, rules: clusterRules }],
    roleBindings: [{ metadata: { name: "deployer", namespace: roleNamespace }, roleRef: { kind: "Role", name: "deployer" }, subjects }],
    clusterRoleBindings: [{ metadata: { name: "wide" }, roleRef: { kind: "ClusterRole", name: "wide" }, subjects }],
  };
}

/** The permissions the audit finds held, as the report names them, with the resource name if any. */
function held(rbac: RbacState): string[] {
  const scopes = [sa.namespace, ...namespacesReached(rbac, sa), ""];
  const allows = rbacAllows(rbac);
  const found = otherPathRequests(rbac, sa, scopes).filter(({ req }) => allows(req));
  return [
    ...new Set(
      found.map(
        ({ path, req }) => `${path.reaches}: ${permissionText(req)}${req.name ? ` on ${req.name}` : ""}${req.namespace ? "" : " (all)"}`,
      ),
    ),
  ].sort();
}

const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): PolicyRule => ({
  apiGroups,
  resources,
  verbs,
  ...(resourceNames ? { resourceNames } : {}),
});
const WRITE = ["create", "update", "patch"];

describe("acting as another identity", () => {
  test("a deployer Role (pods, deployments, jobs, ephemeral containers; no pods/log) holds every way it has", () => {
    const rbac = bound([
      rule([""], ["pods", "pods/ephemeralcontainers"], WRITE),
      rule(["apps"], ["deployments"], WRITE),
      rule(["batch"], ["jobs"], WRITE),
    ]);
    expect(held(rbac)).toEqual([
      "identity: create deployments.apps",
      "identity: create jobs.batch",
      "identity: create pods",
      "identity: patch deployments.apps",
      "identity: patch jobs.batch",
      "identity: patch pods",
      "identity: patch pods/ephemeralcontainers",
      "identity: update deployments.apps",
      "identity: update jobs.batch",
      "identity: update pods",
      "identity: update pods/ephemeralcontainers",
    ]);
  });

  test.each([
    ["create pods", [rule([""], ["pods"], ["create"])]],
    ["create replicationcontrollers", [rule([""], ["replicationcontrollers"], ["create"])]],
    ["create deployments.apps", [rule(["apps"], ["deployments"], ["create"])]],
    ["update replicasets.apps", [rule(["apps"], ["replicasets"], ["update"])]],
    ["patch statefulsets.apps", [rule(["apps"], ["statefulsets"], ["patch"])]],
    ["create daemonsets.apps", [rule(["apps"], ["daemonsets"], ["create"])]],
    ["create jobs.batch", [rule(["batch"], ["jobs"], ["create"])]],
    ["patch cronjobs.batch", [rule(["batch"], ["cronjobs"], ["patch"])]],
    ["patch pods/ephemeralcontainers", [rule([""], ["pods/ephemeralcontainers"], ["patch"])]],
    ["get pods/exec", [rule([""], ["pods/exec"], ["get"])]],
    ["create pods/attach", [rule([""], ["pods/attach"], ["create"])]],
    ["create pods/portforward", [rule([""], ["pods/portforward"], ["create"])]],
    ["create serviceaccounts/token", [rule([""], ["serviceaccounts/token"], ["create"])]],
    ["list secrets", [rule([""], ["secrets"], ["list"])]],
    ["impersonate serviceaccounts", [rule([""], ["serviceaccounts"], ["impersonate"])]],
    [
      "impersonate:serviceaccount serviceaccounts.authentication.k8s.io",
      [rule(["authentication.k8s.io"], ["serviceaccounts"], ["impersonate:serviceaccount"])],
    ],
  ])("%s, and nothing else, is held", (permission, rules) => {
    expect(held(bound(rules))).toEqual([`identity: ${permission}`]);
  });

  test("a rule with wildcards is caught on every path", () => {
    const all = held(bound([rule(["*"], ["*"], ["*"])]));
    for (const path of OTHER_PATHS.filter((p) => !p.clusterScoped)) expect(all).toContain(`${path.reaches}: ${permissionText(path)}`);
    expect(held(bound([rule(["*"], ["*/exec"], ["get"])]))).toEqual(["identity: get pods/exec"]);
    expect(held(bound([rule(["apps"], ["*"], ["patch"])]))).toEqual(
      ["daemonsets", "deployments", "replicasets", "statefulsets"].map((r) => `identity: patch ${r}.apps`),
    );
  });

  test("a ClusterRoleBinding is caught in every namespace at once, cluster-scoped impersonation only there", () => {
    expect(held(bound([], [rule([""], ["pods"], ["create"]), rule([""], ["users"], ["impersonate"])]))).toEqual([
      "identity: create pods",
      "identity: create pods (all)",
      "identity: impersonate users (all)",
    ]);
  });

  test("a RoleBinding in another namespace is caught there", () => {
    expect(held(bound([rule(["batch"], ["cronjobs"], ["create"])], [], "billing"))).toEqual(["identity: create cronjobs.batch"]);
    expect(
      otherPathRequests(bound([], [], "billing"), sa, [sa.namespace, "billing", ""]).some(
        ({ req }) => req.namespace === "billing" && req.resource === "cronjobs",
      ),
    ).toBe(true);
  });

  test("a rule that names objects is asked about each name, the workload's own pods included", () => {
    // Create names nothing, so a named create of pods is no grant; of pods/exec on a pod, it is.
    expect(held(bound([rule([""], ["pods", "pods/exec"], ["update", "create"], ["web-1", "db-0"])]))).toEqual([
      "identity: create pods/exec on db-0",
      "identity: create pods/exec on web-1",
      "identity: update pods on db-0",
      "identity: update pods on web-1",
    ]);
  });

  test("a token for itself is no other identity; for any other ServiceAccount it is", () => {
    expect(held(bound([rule([""], ["serviceaccounts/token"], ["create"], [sa.name])]))).toEqual([]);
    expect(held(bound([rule([""], ["serviceaccounts/token"], ["create"], [sa.name, "payments"])]))).toEqual([
      "identity: create serviceaccounts/token on payments",
    ]);
  });

  test.each(["own", "namespace"] as const)("what podlogreader grants in %s visibility holds no other path", (podVisibility) => {
    for (const kind of ["Deployment", "CronJob"] as const) {
      const rules = roleRules({ kind, namespace: sa.namespace, name: "web", uid: "u" }, ["web-1", "web-2"], { podVisibility }, ["web-123"]);
      expect(held(bound(rules as PolicyRule[]))).toEqual([]);
    }
  });

  test(
    "with no binding, 98 questions per ServiceAccount: 41 in its " + "namespace, 57 across all (the count README gives, with 2 about logs)",
    () => {
      const empty = bound([]);
      expect(otherPathRequests(empty, sa, [sa.namespace]).length).toBe(41);
      expect(otherPathRequests(empty, sa, [""]).length).toBe(57);
    },
  );

  test("every workload kind is asked about for create, update and patch", () => {
    for (const { group, resource } of WORKLOAD_RESOURCES) {
      for (const verb of WRITE) expect(OTHER_PATHS).toContainEqual(expect.objectContaining({ verb, group, resource, reaches: "identity" }));
    }
  });
});

// Random rules, bound in the ServiceAccount's namespace, in another, or cluster-wide.
const verb = fc.constantFrom(
  "*",
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "impersonate",
  "impersonate:serviceaccount",
  "impersonate:user-info",
  "escalate",
  "bind",
);
const group = fc.constantFrom("*", "", "apps", "batch", "authentication.k8s.io", "rbac.authorization.k8s.io");
const resource = fc.constantFrom(
  "*",
  "pods",
  "pods/exec",
  "pods/attach",
  "pods/portforward",
  "pods/ephemeralcontainers",
  "*/exec",
  "pods/log",
  "deployments",
  "jobs",
  "cronjobs",
  "replicationcontrollers",
  "secrets",
  "serviceaccounts",
  "serviceaccounts/token",
  "users",
  "groups",
  "nodes",
  "nodes/proxy",
  "roles",
  "clusterroles",
);
const objectName = fc.constantFrom("web-1", "db-0", sa.name, "payments", "*");
const randomRule: fc.Arbitrary<PolicyRule> = fc.record({
  apiGroups: fc.array(group, { minLength: 1, maxLength: 2 }),
  resources: fc.array(resource, { minLength: 1, maxLength: 3 }),
  verbs: fc.array(verb, { minLength: 1, maxLength: 3 }),
  resourceNames: fc.option(fc.array(objectName, { minLength: 1, maxLength: 2 }), { nil: undefined }),
});
const rules = fc.array(randomRule, { maxLength: 3 });

/** A concrete request someone holding the path could make: on any object, in any namespace. A create of an object names none. */
function concrete(path: OtherPath, namespace: string, name: string): Request {
  const named = !(path.verb === "create" && !path.subresource);
  return {
    namespace: path.clusterScoped ? "" : namespace,
    verb: path.verb,
    group: path.group,
    resource: path.resource,
    ...(path.subresource ? { subresource: path.subresource } : {}),
    ...(named ? { name } : {}),
  };
}

test("whenever RBAC allows a path on any object in any namespace, the audit asks a question RBAC answers yes to", () => {
  fc.assert(
    fc.property(rules, rules, fc.constantFrom(sa.namespace, "billing"), (own, wide, roleNamespace) => {
      const rbac = bound(own, wide, roleNamespace);
      const allows = rbacAllows(rbac);
      const asks = otherPathRequests(rbac, sa, [sa.namespace, ...namespacesReached(rbac, sa), ""]);
      for (const path of OTHER_PATHS) {
        for (const namespace of [sa.namespace, "billing"]) {
          for (const name of ["web-1", "db-0", sa.name, "payments", "*", "unnamed-x"]) {
            const req = concrete(path, namespace, name);
            if (path.itselfAllowed && req.namespace === sa.namespace && name === sa.name) continue;
            if (!allows(req)) continue;
            const caught = asks.some(
              (a) => a.path === path && (a.req.namespace === req.namespace || a.req.namespace === "") && allows(a.req),
            );
            if (!caught)
              throw new Error(`${permissionText(path)} on ${name} in ${namespace || "(cluster)"} is held but no question finds it`);
          }
        }
      }
    }),
    { numRuns: 500 },
  );
});

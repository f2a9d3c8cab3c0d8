// Which binding reaches a ServiceAccount, and which rule matches a request, as RBAC decides it.
import { describe, expect, test } from "bun:test";
import {
  bindingCovers,
  grantingBindings,
  namedInRules,
  namespacesReached,
  ruleAllows,
  type RbacBinding,
  type RbacState,
  type PolicyRule,
} from "../../../../src/admin/audit/rbac.ts";

const sa = { namespace: "a", name: "podlogreader-web" };
const binding = (name: string, namespace: string | undefined, role: [string, string], subjects: RbacBinding["subjects"]): RbacBinding => ({
  metadata: { name, namespace },
  roleRef: { kind: role[0], name: role[1] },
  subjects,
});
const log = (namespace: string, name?: string) => ({ namespace, verb: "get", group: "", resource: "pods", subresource: "log", name });

describe("bindingCovers", () => {
  test.each([
    [{ kind: "ServiceAccount", name: "podlogreader-web", namespace: "a" }, true],
    [{ kind: "ServiceAccount", name: "podlogreader-web", namespace: "b" }, false],
    [{ kind: "User", name: "system:serviceaccount:a:podlogreader-web" }, true],
    [{ kind: "User", name: "podlogreader-web" }, false],
    [{ kind: "Group", name: "system:serviceaccounts" }, true],
    [{ kind: "Group", name: "system:serviceaccounts:a" }, true],
    [{ kind: "Group", name: "system:serviceaccounts:b" }, false],
    [{ kind: "Group", name: "system:authenticated" }, true],
    [{ kind: "Group", name: "system:unauthenticated" }, false],
  ])("%p -> %p", (subject, covers) => {
    expect(bindingCovers(binding("x", "b", ["Role", "r"], [subject]), sa)).toBe(covers);
  });
});

describe("ruleAllows", () => {
  const rule = (r: Partial<PolicyRule>): PolicyRule => ({ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], ...r });
  test.each([
    [rule({}), log("a", "p"), true],
    [rule({}), log("a"), true],
    [rule({ resourceNames: ["p"] }), log("a", "p"), true],
    [rule({ resourceNames: ["p"] }), log("a", "q"), false],
    [rule({ resourceNames: ["p"] }), log("a"), false],
    [rule({ resources: ["pods"] }), log("a", "p"), false],
    [rule({ resources: ["*/log"] }), log("a", "p"), true],
    [rule({ resources: ["*"], verbs: ["*"], apiGroups: ["*"] }), log("a", "p"), true],
    [rule({ verbs: ["list"] }), log("a", "p"), false],
    [rule({ apiGroups: ["apps"] }), log("a", "p"), false],
  ])("%p allows %p: %p", (r, req, allowed) => {
    expect(ruleAllows(r, req)).toBe(allowed);
  });
});

describe("grantingBindings", () => {
  const rbac: RbacState = {
    roles: [
      { metadata: { name: "logs", namespace: "b" }, rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }] },
      {
        metadata: { name: "one", namespace: "a" },
        rules: [{ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"], resourceNames: ["db-0"] }],
      },
    ],
    clusterRoles: [{ metadata: { name: "proxy" }, rules: [{ apiGroups: [""], resources: ["nodes/proxy"], verbs: ["get"] }] }],
    roleBindings: [
      binding("cross", "b", ["Role", "logs"], [{ kind: "ServiceAccount", name: "podlogreader-web", namespace: "a" }]),
      binding("exec", "a", ["Role", "one"], [{ kind: "Group", name: "system:serviceaccounts:a" }]),
    ],
    clusterRoleBindings: [binding("proxy", undefined, ["ClusterRole", "proxy"], [{ kind: "Group", name: "system:authenticated" }])],
  };
  test("names the binding in another namespace", () => {
    expect(grantingBindings(rbac, sa, log("b", "x"))).toEqual([{ kind: "RoleBinding", namespace: "b", name: "cross", role: "Role logs" }]);
    expect(grantingBindings(rbac, sa, log("a", "x"))).toEqual([]);
    expect(namespacesReached(rbac, sa)).toEqual(["b"]);
  });
  test("names a ClusterRoleBinding to a group", () => {
    expect(grantingBindings(rbac, sa, { namespace: "", verb: "get", group: "", resource: "nodes", subresource: "proxy" })).toEqual([
      { kind: "ClusterRoleBinding", name: "proxy", role: "ClusterRole proxy" },
    ]);
  });
  test("finds the names a bound rule singles out", () => {
    expect(namedInRules(rbac, sa, { namespace: "a", verb: "create", group: "", resource: "pods", subresource: "exec" })).toEqual(["db-0"]);
    expect(
      namedInRules(
        rbac,
        { namespace: "c", name: "x" },
        { namespace: "a", verb: "create", group: "", resource: "pods", subresource: "exec" },
      ),
    ).toEqual([]);
  });
});

// The judgement after a failed write: whether the live Role and RoleBinding grant more than they
// may, and which ways out remain, in order. Objects in, verdict out.
import { describe, expect, test } from "bun:test";
import {
  excessGrants,
  isIdleBinding,
  judge,
  NOTHING,
  shrinkRules,
  type Allowed,
  type LiveAccess,
  type Step,
} from "../../../src/access/excess.ts";
import type { PolicyRule, Role, RoleBinding } from "../../../src/kube/objects.ts";

const NAME = "podlogreader-sts-db";
const DB = { kind: "StatefulSet", name: "db" } as const;
const SA = { kind: "ServiceAccount", name: NAME, namespace: "shop" };
const marks = {
  labels: { "app.kubernetes.io/managed-by": "podlogreader" },
  annotations: { "podlogreader.dev/workload": "StatefulSet/db" },
};
const meta = (extra: object = marks) => ({ name: NAME, namespace: "shop", uid: "u", resourceVersion: "1", ...extra });

const pods = (...names: string[]): PolicyRule => ({
  apiGroups: [""],
  resources: ["pods", "pods/log"],
  verbs: ["get", "list", "watch"],
  resourceNames: names,
});
const self: PolicyRule = { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: [NAME] };
const role = (rules: PolicyRule[], m = meta()): Role => ({ metadata: m, rules });
const binding = (subjects = [SA], m = meta(), roleName = NAME): RoleBinding => ({
  metadata: m,
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
  subjects,
});
const allowed = (...names: string[]): Allowed => ({ rules: [...(names.length ? [pods(...names)] : []), self], subjects: [SA] });

describe("judge", () => {
  test.each<[string, LiveAccess, Allowed, boolean, Step[]]>([
    [
      "the Role names only pods that may be read",
      { role: role([pods("db-0"), self]), binding: binding() },
      allowed("db-0", "db-1"),
      false,
      [],
    ],
    [
      "a pod that left is still named: shrink first, keeping what may stay",
      { role: role([pods("db-0", "db-1"), self]), binding: binding() },
      allowed("db-0"),
      true,
      ["shrinkRole", "emptyBinding", "deleteRole", "deleteBinding"],
    ],
    [
      "a Role naming a pod that left grants too much though its binding binds nobody: people may bind it themselves",
      { role: role([pods("db-0", "db-1")]), binding: binding([]) },
      allowed("db-0"),
      true,
      ["shrinkRole", "deleteRole"],
    ],
    ["the same with no binding at all", { role: role([pods("db-1")]) }, allowed(), true, ["shrinkRole", "deleteRole"]],
    [
      "a binding that binds nobody, of a Role that grants what it may, is fine",
      { role: role([pods("db-0")]), binding: binding([]) },
      allowed("db-0"),
      false,
      [],
    ],
    [
      "a binding of a Role that is absent: whoever creates it decides, so it goes (emptied where deleting is refused)",
      { binding: binding() },
      allowed("db-0"),
      true,
      ["deleteBinding", "emptyBinding"],
    ],
    [
      "a binding of a Role that is not podlogreader's: only the binding can go",
      { role: role([pods("other-0")], meta({})), binding: binding() },
      allowed("db-0"),
      true,
      ["deleteBinding", "emptyBinding"],
    ],
    [
      "removal: a subject that may not be bound goes first with the binding, then the Role",
      { role: role([pods("db-0"), self]), binding: binding() },
      NOTHING,
      true,
      ["emptyBinding", "deleteBinding", "shrinkRole", "deleteRole"],
    ],
    ["removal: a Role that grants nothing any more leaves nothing to do", { role: role([]), binding: binding() }, NOTHING, false, []],
    [
      "a foreign binding is never offered as a way out",
      { role: role([pods("db-0", "db-1")]), binding: binding([SA], meta({})) },
      allowed("db-0"),
      true,
      ["shrinkRole", "deleteRole"],
    ],
    [
      "a binding of another Role",
      { role: role([pods("db-0")]), binding: binding([SA], meta(), "admin") },
      allowed("db-0"),
      true,
      ["deleteBinding", "emptyBinding"],
    ],
    [
      "an extra subject",
      { role: role([pods("db-0")]), binding: binding([SA, { kind: "User", name: "mallory", namespace: "" }]) },
      allowed("db-0"),
      true,
      ["emptyBinding", "deleteBinding", "shrinkRole", "deleteRole"],
    ],
    [
      "a Role naming every pod (no resourceNames) grants more than any list of names",
      { role: role([{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }]), binding: binding() },
      allowed("db-0"),
      true,
      ["shrinkRole", "emptyBinding", "deleteRole", "deleteBinding"],
    ],
  ])("%s", (_name, live, may, overGrants, steps) => {
    const verdict = judge(live, may, DB, NAME);
    expect(verdict.overGrants).toBe(overGrants);
    expect(verdict.overGrants ? verdict.steps : []).toEqual(steps);
  });

  test("without a binding of podlogreader's (people bind the Role themselves) the Role alone is judged", () => {
    const verdict = judge({ role: role([pods("db-0", "db-1")]) }, allowed("db-0"), DB, NAME);
    expect(verdict).toMatchObject({ overGrants: true, steps: ["shrinkRole", "deleteRole"], shrunk: [pods("db-0")] });
    expect(judge({ role: role([pods("db-0")]) }, allowed("db-0", "db-1"), DB, NAME).overGrants).toBe(false);
  });

  test("a binding of podlogreader's that binds nobody and whose Role is absent or not podlogreader's is idle", () => {
    expect(isIdleBinding({ binding: binding([]) }, DB)).toBe(true);
    expect(isIdleBinding({ role: role([], meta({})), binding: binding([]) }, DB)).toBe(true);
    expect(isIdleBinding({ role: role([]), binding: binding([]) }, DB)).toBe(false);
    expect(isIdleBinding({ binding: binding() }, DB)).toBe(false);
    expect(isIdleBinding({ binding: binding([], meta({})) }, DB)).toBe(false);
  });

  test("the shrunk Role keeps the names that may stay and drops the rest", () => {
    const verdict = judge({ role: role([pods("db-0", "db-1"), self]), binding: binding() }, allowed("db-0", "db-2"), DB, NAME);
    expect(verdict).toMatchObject({ overGrants: true, shrunk: [pods("db-0"), self] });
  });
});

describe("shrinkRules: only ever removes", () => {
  test("a desired name the live Role does not hold is not added", () => {
    expect(shrinkRules([pods("db-0", "db-2")], [pods("db-0", "db-1")])).toEqual([pods("db-0")]);
  });
  test("a rule left with no names is dropped, never written with an empty resourceNames", () => {
    expect(shrinkRules([pods("db-2"), self], [pods("db-1"), self])).toEqual([self]);
  });
  test("a rule without names is kept only when the live Role already grants it as widely", () => {
    const all: PolicyRule = { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] };
    expect(shrinkRules([all], [pods("db-0")])).toEqual([]);
    expect(shrinkRules([all], [all])).toEqual([all]);
  });
  test("what it returns grants nothing beyond the live Role, nor beyond what is allowed", () => {
    const live = [pods("a", "b", "c"), self];
    const may = [pods("b", "c", "d")];
    const shrunk = shrinkRules(may, live);
    expect(excessGrants(shrunk, live)).toEqual([]);
    expect(excessGrants(shrunk, may)).toEqual([]);
  });
});

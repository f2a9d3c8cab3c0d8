// The chaos harness's plan and reference model (scripts/chaos): the plan follows from the seed
// alone, refusal periods end where the plan says, and the model's new judgements (names of pods
// that are gone, a Role made someone else's) say what the checks at quiescence rely on.
import { describe, expect, test } from "bun:test";
import type { V1Pod, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import { policy } from "../../scripts/chaos/admission.ts";
import { expectations, staleNames, type Snapshot } from "../../scripts/chaos/model.ts";
import { bursts, universe, type Op } from "../../scripts/chaos/plan.ts";
import { Random } from "../../scripts/chaos/random.ts";

const u = universe(["a", "b"]);
const take = (seed: number, n: number): Op[][] => {
  const out: Op[][] = [];
  for (const b of bursts(new Random(seed), u)) {
    out.push(b);
    if (out.length === n) break;
  }
  return out;
};

describe("the chaos plan", () => {
  test("the same seed gives the same bursts; another seed does not", () => {
    expect(take(7, 40)).toEqual(take(7, 40));
    expect(take(8, 40)).not.toEqual(take(7, 40));
  });

  test("every refusal period is lifted first thing in the burst its length names, and never twice", () => {
    const plan = take(20261129, 400);
    let seen = 0;
    let liftAt: number | undefined;
    for (const [i, burst] of plan.entries()) {
      const lifts = burst.filter((op) => op.type === "lift-refusal");
      if (liftAt === i) {
        expect(burst[0]!.type).toBe("lift-refusal");
        expect(lifts).toHaveLength(1);
        liftAt = undefined;
      } else {
        expect(lifts).toHaveLength(0);
      }
      for (const op of burst) {
        if (op.type !== "refuse-role-writes") continue;
        seen++;
        liftAt ??= i + op.bursts;
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  test("operation indices run on without gaps across bursts", () => {
    const indices = take(3, 60).flat().map((op) => op.index);
    expect(indices).toEqual(indices.map((_, i) => i));
  });
});

const MANAGED = { "app.kubernetes.io/managed-by": "podlogreader" };
const pod = (name: string, uid: string, ownerUid: string): V1Pod => ({
  metadata: { name, uid, labels: { "podlogreader-affiliate": "enable" }, ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "w", uid: ownerUid, controller: true }] },
});
const role = (name: string, pods: string[], labels?: Record<string, string>): V1Role => ({
  metadata: { name, labels }, rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: pods }],
});
const binding = (name: string): V1RoleBinding => ({
  metadata: { name, labels: MANAGED }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects: [{ kind: "ServiceAccount", name }],
});
const snapshot = (roles: V1Role[]): Snapshot => ({
  namespace: "a",
  workloads: [{ kind: "StatefulSet", name: "w", uid: "w-uid", optedIn: true }],
  pods: [pod("w-0", "p0", "w-uid"), pod("w-1", "p1", "w-uid")],
  roles,
  roleBindings: [binding("podlogreader-sts-w")],
  serviceAccounts: [],
});
const nameOf = (kind: string, name: string) => `podlogreader-${kind === "StatefulSet" ? "sts" : kind}-${name}`;

describe("the chaos reference model", () => {
  test("a managed Role naming a pod that is gone is a stale name; a foreign Role's names are not its business", () => {
    expect(staleNames(snapshot([role("podlogreader-sts-w", ["w-0", "w-1", "w-2"], MANAGED)]))).toEqual([{ role: "podlogreader-sts-w", pod: "w-2" }]);
    expect(staleNames(snapshot([role("podlogreader-sts-w", ["w-0", "w-1"], MANAGED)]))).toEqual([]);
    expect(staleNames(snapshot([role("podlogreader-sts-w", ["w-9"])]))).toEqual([]);
  });

  test("while the workload's Role is foreign, its ServiceAccount may read nothing and is owed nothing", () => {
    const managed = expectations(snapshot([role("podlogreader-sts-w", ["w-0", "w-1"], MANAGED)]), [], nameOf).get("podlogreader-sts-w")!;
    expect([...managed.mayRead].sort()).toEqual(["w-0", "w-1"]);
    expect(managed.roleForeign).toBe(false);
    const foreign = expectations(snapshot([role("podlogreader-sts-w", ["w-0", "w-1"], { other: "owner" })]), [], nameOf).get("podlogreader-sts-w")!;
    expect(foreign.roleForeign).toBe(true);
    expect(foreign.mayRead.size).toBe(0);
    expect(foreign.mustRead.size).toBe(0);
  });
});

describe("the refusal policies", () => {
  test("the growth refusal judges UPDATEs only; the full refusal every write; both only in the run's namespaces", () => {
    const growth = policy("growth", ["a", "b"]);
    const all = policy("all", ["a", "b"]);
    expect(growth.spec.matchConstraints.resourceRules[0]!.operations).toEqual(["UPDATE"]);
    expect(all.spec.matchConstraints.resourceRules[0]!.operations).toEqual(["CREATE", "UPDATE", "DELETE"]);
    for (const p of [growth, all]) expect(p.spec.matchConstraints.namespaceSelector.matchExpressions[0]!.values).toEqual(["a", "b"]);
  });
});

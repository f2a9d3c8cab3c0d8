// The chaos harness's plan and reference model (scripts/chaos): the plan follows from the seed
// alone, refusal periods end where the plan says, and the model's new judgements (names of pods
// that are gone, a Role made someone else's) say what the checks at quiescence rely on.
import { describe, expect, test } from "bun:test";
import type { V1Pod, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import { policy, probeFor, webhookConfiguration } from "../../../../scripts/chaos/admission.ts";
import { expectations, staleNames, type Snapshot } from "../../../../scripts/chaos/model.ts";
import { bursts, drawRefusal, universe, type Op } from "../../../../scripts/chaos/plan.ts";
import {
  allowanceMs,
  excusedChecks,
  hasWayOut,
  HANG_TIMEOUT_SECONDS,
  POLICY_SHAPES,
  refusesAll,
  waysOut,
  WEBHOOK_SHAPES,
} from "../../../../scripts/chaos/refusals.ts";
import { coveredMs, judgeWindow, LEASE_GAP_MS, type Timeline } from "../../../../scripts/chaos/timeline.ts";
import { refusalReview } from "../../../../scripts/chaos/webhook.ts";
import { refusalReport } from "../../../../scripts/chaos/replicas.ts";
import { Random } from "../../../../scripts/chaos/random.ts";
import { MANAGED, nameOf } from "../../../support/chaos-scene.ts";

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
        if (op.type !== "refuse-writes") continue;
        seen++;
        liftAt ??= i + op.bursts;
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  test("operation indices run on without gaps across bursts", () => {
    const indices = take(3, 60)
      .flat()
      .map((op) => op.index);
    expect(indices).toEqual(indices.map((_, i) => i));
  });
});

const pod = (name: string, uid: string, ownerUid: string): V1Pod => ({
  metadata: {
    name,
    uid,
    labels: { "podlogreader-affiliate": "enable" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "w", uid: ownerUid, controller: true }],
  },
});
const role = (name: string, pods: string[], labels?: Record<string, string>): V1Role => ({
  metadata: { name, labels },
  rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: pods }],
});
const binding = (name: string): V1RoleBinding => ({
  metadata: { name, labels: MANAGED },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
  subjects: [{ kind: "ServiceAccount", name }],
});
const snapshot = (roles: V1Role[]): Snapshot => ({
  namespace: "a",
  workloads: [{ kind: "StatefulSet", name: "w", uid: "w-uid", optedIn: true }],
  pods: [pod("w-0", "p0", "w-uid"), pod("w-1", "p1", "w-uid")],
  roles,
  roleBindings: [binding("podlogreader-sts-w")],
  serviceAccounts: [],
});

describe("the chaos reference model", () => {
  test("a managed Role naming a pod that is gone is a stale name; a foreign Role's names are not its business", () => {
    expect(staleNames(snapshot([role("podlogreader-sts-w", ["w-0", "w-1", "w-2"], MANAGED)]))).toEqual([
      { role: "podlogreader-sts-w", pod: "w-2" },
    ]);
    expect(staleNames(snapshot([role("podlogreader-sts-w", ["w-0", "w-1"], MANAGED)]))).toEqual([]);
    expect(staleNames(snapshot([role("podlogreader-sts-w", ["w-9"])]))).toEqual([]);
  });

  test("while the workload's Role is foreign, its ServiceAccount may read nothing and is owed nothing", () => {
    const managed = expectations(snapshot([role("podlogreader-sts-w", ["w-0", "w-1"], MANAGED)]), [], nameOf).get("podlogreader-sts-w")!;
    expect([...managed.mayRead].sort()).toEqual(["w-0", "w-1"]);
    expect(managed.roleForeign).toBe(false);
    const foreign = expectations(snapshot([role("podlogreader-sts-w", ["w-0", "w-1"], { other: "owner" })]), [], nameOf).get(
      "podlogreader-sts-w",
    )!;
    expect(foreign.roleForeign).toBe(true);
    expect(foreign.mayRead.size).toBe(0);
    expect(foreign.mustRead.size).toBe(0);
  });
});

describe("the refusal shapes", () => {
  test(
    "the growth refusal judges UPDATEs of Roles only; the others " + "refuse the operations they name; all only in the run's namespaces",
    () => {
      const rules = (shape: Parameters<typeof policy>[0]) =>
        policy(shape, ["a", "b"]).spec.matchConstraints.resourceRules.map((r) => [r.resources[0], r.operations]);
      expect(rules("growth")).toEqual([["roles", ["UPDATE"]]]);
      expect(rules("role-writes")).toEqual([["roles", ["CREATE", "UPDATE", "DELETE"]]]);
      expect(rules("deletes")).toEqual([
        ["roles", ["DELETE"]],
        ["rolebindings", ["DELETE"]],
        ["serviceaccounts", ["DELETE"]],
      ]);
      expect(rules("binding-updates")).toEqual([["rolebindings", ["UPDATE"]]]);
      expect(rules("no-way-out")).toEqual([
        ["roles", ["CREATE", "UPDATE", "DELETE"]],
        ["rolebindings", ["UPDATE", "DELETE"]],
      ]);
      for (const shape of POLICY_SHAPES)
        expect(policy(shape, ["a", "b"]).spec.matchConstraints.namespaceSelector.matchExpressions[0]!.values).toEqual(["a", "b"]);
    },
  );

  test("every shape but no-way-out lets a binding be emptied or deleted, so a grant can always be ended", () => {
    for (const shape of POLICY_SHAPES) expect(hasWayOut(shape)).toBe(shape !== "no-way-out");
    for (const shape of WEBHOOK_SHAPES) expect(hasWayOut(shape)).toBe(true);
    expect(waysOut("no-way-out")).toEqual([]);
    expect(waysOut("growth")).toContain("the Role shrunk");
    expect(waysOut("deletes")).toEqual(["the Role shrunk", "the binding's subjects emptied"]);
    expect(waysOut("binding-updates")).toEqual(["the Role shrunk", "the Role deleted", "the binding deleted"]);
  });

  test("a grant left beyond its reason is excused only without a way out; less access is always excused", () => {
    for (const shape of POLICY_SHAPES) {
      const excused = excusedChecks(shape);
      expect(excused.has("under-grant")).toBe(true);
      for (const grant of ["over-grant", "stale-grant", "foreign-role-grant"]) expect(excused.has(grant)).toBe(!hasWayOut(shape));
    }
    // Shrinking and deleting still pass under growth, and every write of a Role under binding-updates.
    expect(excusedChecks("growth").has("stale-name")).toBe(false);
    expect(excusedChecks("binding-updates").has("orphan")).toBe(false);
    // A Role or binding that cannot be deleted can outlive its workload.
    expect(excusedChecks("deletes").has("orphan")).toBe(true);
    expect(refusesAll("growth", "roles", "UPDATE")).toBe(false);
  });

  test("each shape is known to be in force by a write it refuses", () => {
    expect(probeFor("growth")).toBe("role-update");
    expect(probeFor("role-writes")).toBe("role-update");
    expect(probeFor("no-way-out")).toBe("role-update");
    expect(probeFor("binding-updates")).toBe("binding-update");
    expect(probeFor("deletes")).toBe("binding-delete");
  });

  test(
    "the webhook is sent only the shape's writes of labelled " + "objects in the run's namespaces, and a hanging one has a short timeout",
    () => {
      const hang = webhookConfiguration({ shape: "deletes", answer: "hang" }, ["a"], "https://127.0.0.1:1/hang", "Q0E=").webhooks[0]!;
      expect(hang.timeoutSeconds).toBe(HANG_TIMEOUT_SECONDS);
      expect(hang.failurePolicy).toBe("Fail");
      expect(hang.rules.map((r) => [r.apiGroups[0], r.resources[0], r.operations])).toEqual([
        ["rbac.authorization.k8s.io", "roles", ["DELETE"]],
        ["rbac.authorization.k8s.io", "rolebindings", ["DELETE"]],
        ["", "serviceaccounts", ["DELETE"]],
      ]);
      expect(hang.objectSelector.matchLabels).toEqual(MANAGED);
      expect(hang.namespaceSelector.matchExpressions[0]!.values).toEqual(["a"]);
      expect(hang.clientConfig.caBundle).toBe("Q0E=");
    },
  );

  test("a webhook refusal carries the period's status code and the review's uid", () => {
    expect(refusalReview("u-1", 409, "UPDATE Role a/x")).toMatchObject({
      kind: "AdmissionReview",
      response: { uid: "u-1", allowed: false, status: { code: 409 } },
    });
  });

  test("refusals are drawn by policy and by webhook, with every answer, from four numbers each", () => {
    const rng = new Random(99);
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const before = rng.draws;
      const r = drawRefusal(rng);
      expect(rng.draws - before).toBe(4);
      seen.add(`${r.shape}/${r.answer}`);
    }
    for (const shape of POLICY_SHAPES) expect(seen.has(`${shape}/policy`)).toBe(true);
    for (const answer of [409, 404, 429, 500, "hang"]) expect([...seen].some((k) => k.endsWith(`/${answer}`))).toBe(true);
  });
});

describe("judging how long a grant outlived its reason", () => {
  const t = (periods: Timeline["periods"], disturbances: Timeline["disturbances"] = []) => ({ periods, disturbances });
  const stale = (startedAt: number, lastAllowedAt: number) => ({ kind: "stale-grant" as const, startedAt, lastAllowedAt });

  test("overlapping intervals are counted once, and only within the span", () => {
    expect(
      coveredMs({ start: 0, end: 100 }, [
        { start: -50, end: 20 },
        { start: 10, end: 30 },
        { start: 90, end: 200 },
      ]),
    ).toBe(40);
  });

  test("a stale grant is judged against the reaction time, with or without a refusal", () => {
    expect(judgeWindow(stale(1000, 1100), t([]), 115, 5000)).toMatchObject({ judgedMs: 100, allowanceMs: 115 });
    expect(judgeWindow(stale(1000, 1500), t([]), 115, 5000)!.judgedMs).toBe(500);
  });

  test("an over-grant is judged only in a period with a way out; there, a hanging webhook's waits are allowed for", () => {
    const over = { kind: "over-grant" as const, startedAt: 1000, lastAllowedAt: 4000 };
    expect(judgeWindow(over, t([]), 115, 9000)).toBeUndefined();
    expect(
      judgeWindow(over, t([{ refusal: { shape: "no-way-out", answer: "policy" }, opIndex: 1, start: 0, end: 9000 }]), 115, 9000),
    ).toBeUndefined();
    const hang = { refusal: { shape: "role-writes" as const, answer: "hang" as const }, opIndex: 2, start: 500, end: 8000 };
    expect(judgeWindow(over, t([hang]), 115, 9000)).toMatchObject({
      judgedMs: 3000,
      allowanceMs: allowanceMs(hang.refusal, 115),
      period: hang,
    });
  });

  test("time without a leader (and the lease gap after it) and time without a way out are excused", () => {
    const kill = { type: "kill-leader", opIndex: 3, start: 1000, end: 1200 };
    expect(judgeWindow(stale(1000, 1000 + LEASE_GAP_MS + 1500), t([], [kill]), 115, 99_999)!.judgedMs).toBe(1300);
    const none = { refusal: { shape: "no-way-out" as const, answer: "policy" as const }, opIndex: 4, start: 0, end: 10_000 };
    expect(judgeWindow(stale(2000, 10_050), t([none]), 115, 99_999)!.judgedMs).toBe(50);
  });
});

describe("what the harness takes for the controller's report of a refusal", () => {
  test("a log line with reason RoleWriteRefused names the workload in its fields; other reasons are not reports", () => {
    const line =
      " WARN  The apiserver refused to update Role podlogreader-sts-w0: ...; retrying (StatefulSet/w0 in chaos-0)  " +
      "kind=StatefulSet namespace=chaos-0 name=w0 reason=RoleWriteRefused object=Role/podlogreader-sts-w0";
    expect(refusalReport(line, 5)).toEqual({ at: 5, kind: "StatefulSet", namespace: "chaos-0", name: "w0" });
    expect(refusalReport(line.replace("RoleWriteRefused", "SyncFailed"), 5)).toBeUndefined();
  });
});

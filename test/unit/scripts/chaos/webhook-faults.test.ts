// The chaos run's faults of the webhook authorizer (scripts/chaos/authorizer-front.ts,
// webhook-faults.ts): what the front answers in each mode, and the judge's rule for an "allowed"
// given while the webhook was faulted.
import { describe, expect, test } from "bun:test";
import type { V1Role, V1RoleBinding } from "@kubernetes/client-node";
import {
  answersNothing,
  frontAnswer,
  GARBAGE,
  modeOf,
  PAUSE_HOLD_MS,
  SLOW_DELAYS_MS,
  WEBHOOK_FAULTS,
  WEBHOOK_TIMEOUT_MS,
  type FrontMode,
} from "../../../../scripts/chaos/authorizer-front.ts";
import type { Snapshot } from "../../../../scripts/chaos/model.ts";
import { excessOf, questionsFor } from "../../../../scripts/chaos/webhook-faults.ts";
import { MANAGED, nameOf, stsPod, stsSnapshot } from "../../../support/chaos-scene.ts";

const ALLOW = JSON.stringify({
  apiVersion: "authorization.k8s.io/v1",
  kind: "SubjectAccessReview",
  status: { allowed: true, reason: "replica" },
});

/** The front's answer in `mode`, with what it forwarded and how long it slept. */
async function answer(mode: FrontMode) {
  const forwarded: string[] = [];
  const slept: number[] = [];
  const r = await frontAnswer(
    mode,
    "{}",
    async (b) => {
      forwarded.push(b);
      return new Response(ALLOW, { status: 200 });
    },
    async (ms) => slept.push(ms),
  );
  return { status: r.status, text: await r.text(), forwarded, slept };
}

/** What the apiserver could read as an Allow: a 2xx whose body is a SubjectAccessReview v1 with status.allowed true. */
function isAllow(status: number, text: string): boolean {
  if (status < 200 || status > 299) return false;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return false;
  }
  const b = body as { apiVersion?: unknown; kind?: unknown; status?: { allowed?: unknown } };
  return b.apiVersion === "authorization.k8s.io/v1" && b.kind === "SubjectAccessReview" && b.status?.allowed === true;
}

describe("the authorizer front", () => {
  test("healthy, it hands back the replica's answer at once", async () => {
    expect(await answer({ kind: "healthy" })).toEqual({ status: 200, text: ALLOW, forwarded: ["{}"], slept: [] });
  });

  test("paused, it asks no replica and answers nothing until well after the apiserver's timeout", async () => {
    const r = await answer({ kind: "pause" });
    expect(r.forwarded).toEqual([]);
    expect(r.slept).toEqual([PAUSE_HOLD_MS]);
    expect(PAUSE_HOLD_MS).toBeGreaterThan(WEBHOOK_TIMEOUT_MS);
    expect(isAllow(r.status, r.text)).toBe(false);
  });

  test("slow, it hands back the replica's answer after the delay", async () => {
    for (const delayMs of SLOW_DELAYS_MS)
      expect(await answer({ kind: "slow", delayMs })).toEqual({ status: 200, text: ALLOW, forwarded: ["{}"], slept: [delayMs] });
  });

  test("no garbage answer asks a replica or is an Allow the apiserver could read, though most carry allowed: true somewhere", async () => {
    for (const garbage of GARBAGE) {
      const r = await answer({ kind: "garbage", garbage });
      expect({ garbage, forwarded: r.forwarded, allow: isAllow(r.status, r.text) }).toEqual({ garbage, forwarded: [], allow: false });
    }
  });

  test("every fault but a slow answer within the timeout leaves the Roles alone to decide", () => {
    expect(answersNothing({ kind: "healthy" })).toBe(false);
    expect(answersNothing({ kind: "slow", delayMs: WEBHOOK_TIMEOUT_MS - 400 })).toBe(false);
    expect(answersNothing({ kind: "slow", delayMs: WEBHOOK_TIMEOUT_MS + 300 })).toBe(true);
    for (const kind of ["kill", "pause"] as const) expect(answersNothing({ kind })).toBe(true);
    for (const garbage of GARBAGE) expect(answersNothing({ kind: "garbage", garbage })).toBe(true);
  });

  test("the operations' picks reach every garbage answer and every delay", () => {
    const picks = Array.from({ length: 1000 }, (_, pick) => pick);
    const garbage = new Set(
      picks.map((pick) => modeOf({ type: "webhook-garbage", pick })).map((m) => (m.kind === "garbage" ? m.garbage : "")),
    );
    expect([...garbage].sort()).toEqual([...GARBAGE].sort());
    const delays = new Set(picks.map((pick) => modeOf({ type: "webhook-slow", pick })).map((m) => (m.kind === "slow" ? m.delayMs : 0)));
    expect([...delays].sort()).toEqual([...SLOW_DELAYS_MS].sort());
    expect(WEBHOOK_FAULTS.map((type) => modeOf({ type, pick: 0 }).kind)).toEqual(["kill", "pause", "slow", "garbage"]);
  });
});

const SA = "podlogreader-sts-w";
/** A managed Role as --role-pod-names=names writes it (pods listed) or none does (no pod rule). */
const role = (pods: string[] | "none"): V1Role => ({
  metadata: { name: SA, labels: MANAGED },
  rules:
    pods === "none"
      ? [{ apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get"], resourceNames: ["w"] }]
      : [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: pods }],
});
const binding: V1RoleBinding = {
  metadata: { name: SA, labels: MANAGED },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: SA },
  subjects: [{ kind: "ServiceAccount", name: SA }],
};
const snapshot = (r: V1Role): Snapshot =>
  stsSnapshot({ pods: [stsPod("w-0", "w-uid"), stsPod("w-1", "w-uid"), stsPod("x-0", "x-uid")], roles: [r], roleBindings: [binding] });

describe("the judge of a faulted webhook", () => {
  test("asks about each pod a healthy webhook would grant, and one it would not", () => {
    expect(questionsFor(snapshot(role("none")), [SA], nameOf)).toEqual([
      { serviceAccount: SA, pod: "w-0" },
      { serviceAccount: SA, pod: "w-1" },
      { serviceAccount: SA, pod: "x-0" },
    ]);
  });

  test("with no decision from the webhook, only what a Role names may be read", () => {
    const named = snapshot(role(["w-0"]));
    expect(excessOf({ serviceAccount: SA, pod: "w-0" }, true, [named], true, nameOf)).toBeUndefined();
    expect(excessOf({ serviceAccount: SA, pod: "w-1" }, true, [named], true, nameOf)).toContain("no Role bound to it names the pod");
    expect(excessOf({ serviceAccount: SA, pod: "w-1" }, false, [named], true, nameOf)).toBeUndefined();
  });

  test("with --role-pod-names=none, no pod at all may be read while the webhook gives no decision, its own workload's included", () => {
    const none = snapshot(role("none"));
    for (const p of ["w-0", "w-1", "x-0"]) expect(excessOf({ serviceAccount: SA, pod: p }, true, [none], true, nameOf)).toBeDefined();
    // A name the Role listed when read before or after the question counts (a hand edit the controller is mending).
    expect(excessOf({ serviceAccount: SA, pod: "w-1" }, true, [none, snapshot(role(["w-1"]))], true, nameOf)).toBeUndefined();
  });

  test("a slow answer within the timeout may add the workload's own pods, never another's", () => {
    const none = snapshot(role("none"));
    expect(excessOf({ serviceAccount: SA, pod: "w-0" }, true, [none], false, nameOf)).toBeUndefined();
    expect(excessOf({ serviceAccount: SA, pod: "x-0" }, true, [none], false, nameOf)).toContain("outside its workload");
  });
});

// The chaos judge of grants to people (scripts/chaos/grants.ts): when an ended grant must read
// nothing any more, what counts as reading past that, and which pods a running grant may read.
import { describe, expect, test } from "bun:test";
import type { V1Role, V1RoleBinding } from "@kubernetes/client-node";
import {
  endDeadline,
  END_BOUND_MS,
  endings,
  excusedSpans,
  grantScope,
  liveGrants,
  readsPastDeadline,
  type GrantRecord,
} from "../../../../scripts/chaos/grants.ts";
import { expectations, type Snapshot } from "../../../../scripts/chaos/model.ts";
import { drawOp, universe } from "../../../../scripts/chaos/plan.ts";
import { Random } from "../../../../scripts/chaos/random.ts";
import { LEASE_GAP_MS } from "../../../../scripts/chaos/timeline.ts";
import { MANAGED, nameOf, stsPod, stsSnapshot } from "../../../support/chaos-scene.ts";

/** The user and the group every grant of these tests is for. */
const GRANTEES: GrantRecord["subjects"] = [
  { kind: "User", name: "chaos-user-7" },
  { kind: "Group", name: "chaos-group-7" },
];

const record = (over: Partial<GrantRecord> = {}): GrantRecord => ({
  opIndex: 7,
  namespace: "a",
  kind: "StatefulSet",
  name: "w",
  binding: "podlogreader-sts-w:grant-0123456789",
  subjects: GRANTEES,
  grantedAt: 1_000,
  expiresAt: 30_000,
  revokedAt: {},
  ...over,
});

describe("when an ended grant must read nothing", () => {
  test("each subject ends at its revoke when that came first, else at the expiry", () => {
    const ends = endings(record({ revokedAt: { "user:chaos-user-7": 12_000, "group:chaos-group-7": 40_000 } }));
    expect(ends.map((e) => [e.subject.name, e.why, e.at])).toEqual([
      ["chaos-user-7", "revoked", 12_000],
      ["chaos-group-7", "expired", 30_000],
    ]);
  });

  test("with the controller leading throughout, 10 s after the expiry", () => {
    expect(endDeadline({ why: "expired", at: 30_000 }, [])).toBe(30_000 + END_BOUND_MS);
    // A disturbance over before the expiry, or begun after it, changes nothing: the leader at the
    // expiry had a timer set for that instant.
    expect(endDeadline({ why: "expired", at: 30_000 }, [{ start: 0, end: 5_000 }, { start: 31_000, end: 50_000 }, { start: 41_000 }])).toBe(
      40_000,
    );
  });

  test("time without a live leader does not count: an expiry during a pause is due 10 s after the lease gap that follows it", () => {
    const pause = excusedSpans({ disturbances: [{ type: "grant-then-pause-leader", opIndex: 3, start: 25_000, end: 55_000 }] }, undefined);
    expect(pause).toEqual([{ start: 25_000, end: 55_000 + LEASE_GAP_MS }]);
    expect(endDeadline({ why: "expired", at: 30_000 }, pause)).toBe(55_000 + LEASE_GAP_MS + END_BOUND_MS);
    // Spans that overlap the one covering the expiry chain; one after a gap does not.
    const spans = [
      { start: 20_000, end: 35_000 },
      { start: 34_000, end: 38_000 },
      { start: 36_000, end: 37_000 },
      { start: 39_000, end: 60_000 },
    ];
    expect(endDeadline({ why: "expired", at: 30_000 }, spans)).toBe(48_000);
  });

  test("while a disturbance that began before the expiry is still under way, the deadline is not known yet", () => {
    expect(endDeadline({ why: "expired", at: 30_000 }, excusedSpans({ disturbances: [] }, 29_000))).toBeUndefined();
    expect(endDeadline({ why: "expired", at: 30_000 }, excusedSpans({ disturbances: [] }, 32_000))).toBe(40_000);
  });

  test("a revoke ends the grant itself: due 10 s after the command returned, whatever the controller does", () => {
    expect(endDeadline({ why: "revoked", at: 12_000 }, [{ start: 0 }])).toBe(22_000);
  });

  test("an ended grant still readable at or after its deadline is a violation; before it, or denied, is not", () => {
    const answers = [
      { pod: "w-0", allowed: true, askedAt: 39_999 },
      { pod: "w-1", allowed: true, askedAt: 40_000 },
      { pod: "other", allowed: false, askedAt: 41_000 },
      { pod: "chaos-no-such-pod", allowed: true, askedAt: 41_000 },
    ];
    expect(readsPastDeadline(40_000, answers).map((a) => a.pod)).toEqual(["w-1", "chaos-no-such-pod"]);
    expect(
      readsPastDeadline(
        40_000,
        answers.map((a) => ({ ...a, allowed: false })),
      ),
    ).toEqual([]);
  });
});

const role = (uid: string, labels: Record<string, string> | undefined = MANAGED): V1Role => ({
  metadata: { name: "podlogreader-sts-w", uid, labels },
  rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: ["w-0", "w-1"] }],
});
const grantBinding = (roleUid: string, workload = "StatefulSet/w"): V1RoleBinding => ({
  metadata: {
    name: "podlogreader-sts-w:grant-0123456789",
    labels: { "podlogreader.dev/grant": "true" },
    annotations: { "podlogreader.dev/workload": workload },
    ownerReferences: [{ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "podlogreader-sts-w", uid: roleUid }],
  },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-sts-w" },
  subjects: [
    { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "chaos-user-7" },
    { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "chaos-group-7" },
  ],
});
const snapshot = (r: V1Role, b: V1RoleBinding): Snapshot =>
  stsSnapshot({ pods: [stsPod("w-0", "w-uid"), stsPod("w-1", "w-uid"), stsPod("bare-0", "someone-else")], roles: [r], roleBindings: [b] });
const scopeOf = (s: Snapshot) => {
  const [g] = liveGrants(s);
  return grantScope(g!, s, expectations(s, [], nameOf));
};

describe("what a running grant's users and groups may read", () => {
  test("a grant's users and groups are read from the binding labelled as a grant", () => {
    expect(liveGrants(snapshot(role("r1"), grantBinding("r1")))).toEqual([
      {
        binding: "podlogreader-sts-w:grant-0123456789",
        role: "podlogreader-sts-w",
        workload: "StatefulSet/w",
        roleUid: "r1",
        subjects: GRANTEES,
      },
    ]);
  });

  test("the pods of the granted workload, through the managed Role it was made for", () => {
    const scope = scopeOf(snapshot(role("r1"), grantBinding("r1")));
    expect([...scope.pods].sort()).toEqual(["w-0", "w-1"]);
    expect(scope.broken).toBeUndefined();
  });

  test("nothing once its Role is made again, taken over, or is another workload's", () => {
    expect(scopeOf(snapshot(role("r2"), grantBinding("r1")))).toMatchObject({
      pods: new Set(),
      broken: expect.stringContaining("not the one it was made for"),
    });
    expect(scopeOf(snapshot(role("r1", { other: "owner" }), grantBinding("r1")))).toMatchObject({
      pods: new Set(),
      broken: expect.stringContaining("not podlogreader's"),
    });
    expect(scopeOf(snapshot(role("r1"), grantBinding("r1", "Deployment/w")))).toMatchObject({
      pods: new Set(),
      broken: expect.stringContaining("no opted-in workload"),
    });
  });
});

describe("the grant operations in the plan", () => {
  test("grant, grant-then-pause-leader and revoke each draw a fixed count of numbers, so the seed fixes the sequence", () => {
    const u = universe(["a", "b"]);
    const rng = new Random(5);
    const draws = new Map<string, Set<number>>();
    let longGrants = 0;
    for (let i = 0; i < 20_000; i++) {
      const before = rng.draws;
      const op = drawOp(rng, u, i);
      if (op.type === "grant" && op.seconds >= 600) longGrants++;
      if (op.type === "grant") expect(op.seconds >= 5 && (op.seconds <= 40 || op.seconds >= 600)).toBe(true);
      (draws.get(op.type) ?? draws.set(op.type, new Set()).get(op.type)!).add(rng.draws - before);
    }
    for (const type of ["grant", "grant-then-pause-leader", "revoke"]) expect(draws.get(type)?.size).toBe(1);
    expect(longGrants).toBeGreaterThan(0);
  });
});

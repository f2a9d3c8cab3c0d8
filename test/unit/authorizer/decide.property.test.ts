// The webhook authorizer against a reference model that shares no decision code with src/: it
// knows from how each scenario was generated which pod belongs to which workload, which binding
// counts, and which pods a selector matches. The authorizer may allow only what the model permits,
// and answers nothing but Allow or NoOpinion.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { desiredGrant } from "../../../src/access/grants.ts";
import { World, type Workload } from "../../../src/access/membership.ts";
import { authorize } from "../../../src/authorizer/authorize.ts";
import type { Ask, Evidence, PodFacts, View } from "../../../src/authorizer/decide.ts";
import type { RoleBinding } from "../../../src/kube/objects.ts";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const NS = "shop";
const runs = { numRuns: 400 };

// The model's cluster. Deployments web and api, a StatefulSet db whose selector overlaps web's.
type ModelWorkload = "web" | "api" | "db";
const SELECTORS: Record<ModelWorkload, Record<string, string>> = {
  web: { app: "web" },
  api: { app: "api" },
  db: { app: "web", tier: "db" },
};
const ROLE: Record<ModelWorkload, string> = { web: "podlogreader-web", api: "podlogreader-api", db: "podlogreader-sts-db" };
/** rs-new is web's newest ReplicaSet, not yet in the controller's caches. */
type PodOwner = "rs-web" | "rs-new" | "rs-api" | "sts-db" | "none";
const OWNER_OF: Record<PodOwner, ModelWorkload | undefined> = {
  "rs-web": "web",
  "rs-new": "web",
  "rs-api": "api",
  "sts-db": "db",
  none: undefined,
};

interface ModelPod {
  name: string;
  owner: PodOwner;
  labels: Record<string, string>;
  optedIn: boolean;
}
interface ModelBinding {
  workload: ModelWorkload;
  kind: "managed" | "grant" | "foreign";
  subject: { kind: "User" | "Group" | "ServiceAccount"; name: string };
  expired: boolean;
}
interface Scenario {
  pods: ModelPod[];
  apiOptedIn: boolean;
  bindings: ModelBinding[];
  controllerRead: boolean;
}
interface Req {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

const TEMPLATE_LABELS: Record<PodOwner, Record<string, string>> = {
  "rs-web": { app: "web" },
  "rs-new": { app: "web" },
  "rs-api": { app: "api" },
  "sts-db": { app: "web", tier: "db" },
  none: { app: "web" },
};
/** Mostly a pod as its owner makes it; sometimes one with any labels, or without the opt-in label. */
const pod: fc.Arbitrary<Omit<ModelPod, "name">> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom<PodOwner>("rs-web", "rs-new", "rs-api", "sts-db")
      .map((owner) => ({ owner, labels: TEMPLATE_LABELS[owner], optedIn: true })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      owner: fc.constantFrom<PodOwner>("rs-web", "rs-new", "rs-api", "sts-db", "none"),
      labels: fc.record({ app: fc.constantFrom("web", "api"), tier: fc.constant("db") }, { requiredKeys: [] }),
      optedIn: fc.boolean(),
    }),
  },
);
const binding: fc.Arbitrary<ModelBinding> = fc.record({
  workload: fc.constantFrom<ModelWorkload>("web", "api", "db"),
  kind: fc.constantFrom("managed" as const, "grant" as const, "foreign" as const),
  subject: fc.constantFrom(
    { kind: "User" as const, name: "alice" },
    { kind: "User" as const, name: "bob" },
    { kind: "Group" as const, name: "devs" },
    { kind: "ServiceAccount" as const, name: "podlogreader-web" },
    { kind: "ServiceAccount" as const, name: "podlogreader-sts-db" },
  ),
  expired: fc.boolean(),
});
const scenario: fc.Arbitrary<Scenario> = fc.record({
  pods: fc.array(pod, { maxLength: 4 }).map((ps) => ps.map((p, i) => ({ ...p, name: `p${i}` }))),
  apiOptedIn: fc.boolean(),
  bindings: fc.array(binding, { minLength: 1, maxLength: 5 }),
  controllerRead: fc.boolean(),
});
const REQUIREMENTS: Req[] = [
  { key: "app", operator: "In", values: ["web"] },
  { key: "app", operator: "In", values: ["web", "api"] },
  { key: "app", operator: "In", values: ["api"] },
  { key: "tier", operator: "In", values: ["db"] },
  { key: "tier", operator: "NotIn", values: ["db"] },
  { key: "tier", operator: "DoesNotExist" },
  { key: "app", operator: "Exists" },
  { key: "podlogreader-affiliate", operator: "In", values: ["enable"] },
  { key: "other", operator: "In", values: ["x"] },
];
const selector = fc.record({ requirements: fc.oneof(fc.subarray(REQUIREMENTS, { maxLength: 3 }), fc.subarray(REQUIREMENTS)) });
const requester = {
  user: fc.constantFrom(
    "alice",
    "bob",
    "carol",
    "system:serviceaccount:shop:podlogreader-web",
    "system:serviceaccount:shop:podlogreader-sts-db",
    "system:serviceaccount:other:podlogreader-web",
  ),
  groups: fc.subarray(["devs", "ops", "system:authenticated"]),
};
const sar = <T>(resourceAttributes: fc.Arbitrary<T>) =>
  fc.record({
    apiVersion: fc.constant("authorization.k8s.io/v1"),
    kind: fc.constant("SubjectAccessReview"),
    spec: fc.record({ ...requester, resourceAttributes }),
  });
/** Reviews of reads the authorizer answers, and of anything else. */
const review = fc.oneof(
  sar(
    fc.record({
      namespace: fc.constant(NS),
      verb: fc.constant("get"),
      resource: fc.constant("pods"),
      subresource: fc.constantFrom("", "log"),
      name: fc.constantFrom("p0", "p1", "p2", "p3"),
    }),
  ),
  sar(
    fc.record({
      namespace: fc.constant(NS),
      verb: fc.constantFrom("list", "watch"),
      resource: fc.constant("pods"),
      labelSelector: selector,
    }),
  ),
  sar(
    fc.record(
      {
        namespace: fc.constantFrom(NS, "other"),
        verb: fc.constantFrom("get", "list", "watch", "delete", "create"),
        group: fc.constantFrom("", "apps"),
        resource: fc.constantFrom("pods", "secrets"),
        subresource: fc.constantFrom("", "log", "exec"),
        name: fc.constantFrom("", "p0", "p1", "p9"),
        labelSelector: selector,
      },
      { requiredKeys: ["namespace", "verb", "resource"] },
    ),
  ),
);

/** The model's own label matcher. */
function matches(labels: Record<string, string>, reqs: readonly Req[]): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    if (r.operator === "In") return has && r.values!.includes(labels[r.key]!);
    if (r.operator === "NotIn") return !has || !r.values!.includes(labels[r.key]!);
    if (r.operator === "Exists") return has;
    return !has;
  });
}

const optedInWorkloads = (s: Scenario): ModelWorkload[] => (s.apiOptedIn ? ["web", "api", "db"] : ["web", "db"]);
const belongsTo = (s: Scenario, p: ModelPod): ModelWorkload | undefined => {
  const w = OWNER_OF[p.owner];
  return p.optedIn && w && optedInWorkloads(s).includes(w) ? w : undefined;
};
function bound(s: Scenario, w: ModelWorkload, user: string, groups: string[]): boolean {
  return s.bindings.some(
    (b) =>
      b.workload === w &&
      (b.kind === "managed" || (b.kind === "grant" && !b.expired)) &&
      ((b.subject.kind === "User" && b.subject.name === user) ||
        (b.subject.kind === "Group" && groups.includes(b.subject.name)) ||
        (b.subject.kind === "ServiceAccount" && user === `system:serviceaccount:${NS}:${b.subject.name}`)),
  );
}

/** What the model permits: a named pod of a workload whose Role binds the user, or a selector whose every pod is one workload's. */
interface Review {
  spec: {
    user: string;
    groups: string[];
    resourceAttributes: {
      namespace: string;
      verb: string;
      group?: string;
      resource: string;
      subresource?: string;
      name?: string;
      labelSelector?: { requirements: Req[] };
    };
  };
}
function permitted(s: Scenario, r: Review): boolean {
  const a = r.spec.resourceAttributes;
  const { user, groups } = r.spec;
  if (a.namespace !== NS || (a.group ?? "") !== "" || a.resource !== "pods") return false;
  if (a.verb === "get" && (a.subresource ?? "") !== "exec") {
    const p = s.pods.find((x) => x.name === a.name);
    const w = p && belongsTo(s, p);
    return w !== undefined && bound(s, w, user, groups);
  }
  if ((a.verb === "list" || a.verb === "watch") && (a.subresource ?? "") === "" && !a.name) {
    const reqs = a.labelSelector?.requirements ?? [];
    if (reqs.length === 0) return false;
    const reached = s.pods.filter((p) => matches(p.labels, reqs));
    return optedInWorkloads(s).some((w) => bound(s, w, user, groups) && reached.every((p) => belongsTo(s, p) === w));
  }
  return false;
}

// The same scenario, as the controller's caches and the apiserver hold it.
const UID: Record<string, string> = {
  web: "uid-web",
  api: "uid-api",
  db: "uid-db",
  "rs-web": "uid-rs-web",
  "rs-new": "uid-rs-new",
  "rs-api": "uid-rs-api",
};
const KIND = { web: "Deployment", api: "Deployment", db: "StatefulSet" } as const;

function clusterOf(s: Scenario) {
  const world = new World();
  const workload = (
    kind: Workload["kind"],
    name: string,
    optedIn: boolean,
    selector?: Record<string, string>,
    owner?: string,
  ): Workload => ({
    kind,
    name,
    namespace: NS,
    uid: UID[name.startsWith("rs-") ? name : name] ?? `uid-${name}`,
    optedIn,
    ...(selector ? { selector: { matchLabels: selector } } : {}),
    ...(owner ? { controllerKind: "Deployment", controllerUid: UID[owner] } : {}),
  });
  for (const w of ["web", "api", "db"] as const)
    world.updateWorkload(undefined, workload(KIND[w], w, w !== "api" || s.apiOptedIn, SELECTORS[w]));
  world.updateWorkload(undefined, workload("ReplicaSet", "rs-web", true, { app: "web", "pod-template-hash": "1" }, "web"));
  world.updateWorkload(undefined, workload("ReplicaSet", "rs-api", s.apiOptedIn, { app: "api", "pod-template-hash": "1" }, "api"));
  const rsNew = workload("ReplicaSet", "rs-new", true, { app: "web", "pod-template-hash": "2" }, "web");
  const facts = (p: ModelPod): PodFacts => {
    const controller =
      p.owner === "none"
        ? undefined
        : p.owner === "sts-db"
          ? { kind: "StatefulSet", uid: UID.db }
          : { kind: "ReplicaSet", uid: UID[p.owner] };
    return {
      namespace: NS,
      name: p.name,
      uid: `uid-${p.name}`,
      optedIn: p.optedIn,
      controllerKind: controller?.kind,
      controllerUid: controller?.uid,
    };
  };
  for (const p of s.pods) if (p.optedIn) world.updatePod(undefined, facts(p));
  const bindings: RoleBinding[] = s.bindings.map((b, i) => {
    const name = b.workload === "db" ? "db" : b.workload;
    const subject =
      b.subject.kind === "ServiceAccount"
        ? { kind: "ServiceAccount", name: b.subject.name, namespace: NS }
        : { ...b.subject, apiGroup: "rbac.authorization.k8s.io" };
    if (b.kind === "grant") {
      const g = desiredGrant({
        namespace: NS,
        kind: KIND[b.workload],
        name,
        subjects: [b.subject.kind === "ServiceAccount" ? { ...b.subject, namespace: NS } : b.subject],
        roleUid: "r",
        expiresAtMs: NOW + (b.expired ? -60_000 : 3_600_000),
        reason: "test",
        grantedBy: "admin",
      });
      return { ...g, metadata: { ...g.metadata, uid: `b${i}`, resourceVersion: "1" } };
    }
    const managed = b.kind === "managed";
    return {
      metadata: {
        name: managed ? ROLE[b.workload] : `hand-made-${i}`,
        namespace: NS,
        uid: `b${i}`,
        resourceVersion: "1",
        ...(managed
          ? {
              labels: { "app.kubernetes.io/managed-by": "podlogreader" },
              ownerReferences: [{ apiVersion: "apps/v1", kind: KIND[b.workload], name, uid: UID[b.workload]!, controller: true }],
            }
          : {}),
      },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: ROLE[b.workload] },
      subjects: [subject],
    };
  });
  const view: View = { world, bindings: (ns) => (ns === NS ? bindings : []) };
  /** The apiserver's answers, by the model's own matcher. */
  const gather = async (ask: Ask): Promise<Evidence> => {
    if (ask.namespace !== NS) return ask.kind === "pod" ? {} : { matching: [] };
    if (ask.kind === "pod") {
      const p = s.pods.find((x) => x.name === ask.name);
      return { pod: p && facts(p), podController: p?.owner === "rs-new" && s.controllerRead ? rsNew : undefined };
    }
    return { matching: s.pods.filter((p) => matches(p.labels, ask.requirements as Req[])).map(facts) };
  };
  return { view, gather };
}

describe("the authorizer allows only what the model permits", () => {
  test("an Allow is always a pod, or a selector's every pod, of a workload whose Role binds the requester", async () => {
    const allowed = { get: 0, list: 0 };
    await fc.assert(
      fc.asyncProperty(scenario, review, async (s, r) => {
        const { view, gather } = clusterOf(s);
        const d = await authorize(r, gather, view, () => NOW);
        if (d.allowed) {
          expect(permitted(s, r)).toBe(true);
          allowed[r.spec.resourceAttributes.verb === "get" ? "get" : "list"]++;
        }
      }),
      { numRuns: 2000 },
    );
    // The property is about Allows: the scenarios must produce both kinds.
    expect(allowed.get).toBeGreaterThan(0);
    expect(allowed.list).toBeGreaterThan(0);
  });

  test("anything that is not a SubjectAccessReview v1, or a gather that fails, is NoOpinion", async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        fc.oneof(
          fc.anything(),
          fc.object(),
          review.map((r) => ({ ...r, apiVersion: "authorization.k8s.io/v1beta1" })),
        ),
        async (s, raw) => {
          const { view, gather } = clusterOf(s);
          expect(await authorize(raw, gather, view, () => NOW)).toMatchObject({ allowed: false });
          expect(
            await authorize(
              raw,
              () => Promise.reject(new Error("timeout")),
              view,
              () => NOW,
            ),
          ).toMatchObject({ allowed: false });
        },
      ),
      runs,
    );
  });

  test(
    "a read the model permits and the authorizer cannot see through " + "its caches or a read of the controller is NoOpinion, never Allow",
    async () => {
      // rs-new is web's, but neither cache nor read shows it: the authorizer does not know.
      const s: Scenario = {
        pods: [{ name: "p0", owner: "rs-new", labels: { app: "web" }, optedIn: true }],
        apiOptedIn: true,
        bindings: [{ workload: "web", kind: "managed", subject: { kind: "ServiceAccount", name: "podlogreader-web" }, expired: false }],
        controllerRead: false,
      };
      const { view, gather } = clusterOf(s);
      const get = {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: "system:serviceaccount:shop:podlogreader-web",
          resourceAttributes: { namespace: NS, verb: "get", resource: "pods", subresource: "log", name: "p0" },
        },
      };
      expect((await authorize(get, gather, view, () => NOW)).allowed).toBe(false);
      expect((await authorize(get, clusterOf({ ...s, controllerRead: true }).gather, view, () => NOW)).allowed).toBe(true);
    },
  );
});

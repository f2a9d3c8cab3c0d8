// The webhook authorizer's decisions, case by case: who may read which pods, and what is left to
// RBAC (NoOpinion). The property test (authorizer.property.test.ts) covers the rest.
import { describe, expect, test } from "bun:test";
import { desiredGrant } from "../../../src/access/grants.ts";
import { World, type Workload } from "../../../src/access/membership.ts";
import { authorize } from "../../../src/authorizer/authorize.ts";
import type { Ask, Evidence, PodFacts, View } from "../../../src/authorizer/decide.ts";
import { narrowerThan, selectorString } from "../../../src/access/selector.ts";
import type { RoleBinding } from "../../../src/kube/objects.ts";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const SA = "system:serviceaccount:ns:podlogreader-web";

const workload = (kind: Workload["kind"], name: string, uid: string, extra: Partial<Workload> = {}): Workload => ({
  kind,
  namespace: "ns",
  name,
  uid,
  optedIn: true,
  ...extra,
});
const web = workload("Deployment", "web", "d1", { selector: { matchLabels: { app: "web" } } });
const rs = workload("ReplicaSet", "web-1", "r1", {
  controllerKind: "Deployment",
  controllerUid: "d1",
  selector: { matchLabels: { app: "web", "pod-template-hash": "1" } },
});
const api = workload("Deployment", "api", "d2", { selector: { matchLabels: { app: "api" } } });
const apiRs = workload("ReplicaSet", "api-1", "r2", { controllerKind: "Deployment", controllerUid: "d2" });

const pod = (name: string, labels: Record<string, string>, owner?: { kind: string; uid: string }, optedIn = true) => ({
  facts: { namespace: "ns", name, uid: `u-${name}`, optedIn, controllerKind: owner?.kind, controllerUid: owner?.uid } as PodFacts,
  labels,
});
const pods = {
  web1: pod("web-1-a", { app: "web" }, { kind: "ReplicaSet", uid: "r1" }),
  web2: pod("web-1-b", { app: "web" }, { kind: "ReplicaSet", uid: "r1" }),
  api1: pod("api-1-a", { app: "api" }, { kind: "ReplicaSet", uid: "r2" }),
};

const managedBinding: RoleBinding = {
  metadata: {
    name: "podlogreader-web",
    namespace: "ns",
    uid: "b1",
    resourceVersion: "1",
    labels: { "app.kubernetes.io/managed-by": "podlogreader" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "d1", controller: true }],
  },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-web" },
  subjects: [{ kind: "ServiceAccount", name: "podlogreader-web", namespace: "ns" }],
};
function grant(subject: { kind: "User" | "Group"; name: string }, expiresAtMs: number): RoleBinding {
  const g = desiredGrant({
    namespace: "ns",
    kind: "Deployment",
    name: "web",
    subjects: [subject],
    roleUid: "r",
    expiresAtMs,
    reason: "INC-1",
    grantedBy: "admin",
  });
  return { ...g, metadata: { ...g.metadata, uid: "g", resourceVersion: "1" } };
}
const foreign: RoleBinding = {
  ...managedBinding,
  metadata: { name: "by-hand", namespace: "ns", uid: "f", resourceVersion: "1" },
  subjects: [{ kind: "User", name: "mallory", apiGroup: "rbac.authorization.k8s.io" }],
};

function cluster(present: { facts: PodFacts; labels: Record<string, string> }[], bindings: RoleBinding[] = [managedBinding]) {
  const world = new World();
  for (const w of [web, rs, api, apiRs]) world.updateWorkload(undefined, w);
  for (const p of present) if (p.facts.optedIn) world.updatePod(undefined, p.facts);
  const view: View = { world, bindings: () => bindings };
  const gather = async (ask: Ask): Promise<Evidence> => {
    if (ask.kind === "pod") return { pod: present.find((p) => p.facts.name === ask.name)?.facts };
    // The apiserver's matcher, for the equality requirements these cases use.
    const match = (labels: Record<string, string>) =>
      ask.requirements.every((r) => r.operator === "In" && r.values!.includes(labels[r.key] ?? "\0"));
    return { matching: present.filter((p) => match(p.labels)).map((p) => p.facts) };
  };
  return (attrs: Record<string, unknown>, user = SA, groups: string[] = []) =>
    authorize(
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: { user, groups, resourceAttributes: { namespace: "ns", resource: "pods", ...attrs } },
      },
      gather,
      view,
      () => NOW,
    );
}
const logOf = (name: string) => ({ verb: "get", subresource: "log", name });
const listBy = (labels: Record<string, string>, verb = "list") => ({
  verb,
  labelSelector: { requirements: Object.entries(labels).map(([key, v]) => ({ key, operator: "In", values: [v] })) },
});

describe("reading a workload's pods", () => {
  test("its ServiceAccount reads the log and the object of each of its pods", async () => {
    const ask = cluster([pods.web1, pods.api1]);
    expect(await ask(logOf("web-1-a"))).toMatchObject({ allowed: true });
    expect(await ask({ verb: "get", name: "web-1-a" })).toMatchObject({ allowed: true });
  });

  test("another workload's pod, a bare pod and a pod that left the workload are left to RBAC", async () => {
    const bare = pod("web-1-c", { app: "web" });
    const notOptedIn = pod("web-1-d", { app: "web" }, { kind: "ReplicaSet", uid: "r1" }, false);
    const ask = cluster([pods.web1, pods.api1, bare, notOptedIn]);
    for (const name of ["api-1-a", "web-1-c", "web-1-d", "gone"]) expect(await ask(logOf(name))).toMatchObject({ allowed: false });
  });

  test("kubectl logs deploy/web and -l app=web: a list or watch by the Deployment's selector, while only its pods match", async () => {
    const ask = cluster([pods.web1, pods.web2, pods.api1]);
    expect(await ask(listBy({ app: "web" }))).toMatchObject({ allowed: true });
    expect(await ask(listBy({ app: "web" }, "watch"))).toMatchObject({ allowed: true });
    expect(await ask(listBy({ app: "web", "pod-template-hash": "1" }))).toMatchObject({ allowed: true });
  });

  test(
    "a selector that also matches a bare pod, one that is wider " + "than the workload's, and a list without one are left to RBAC",
    async () => {
      expect(await cluster([pods.web1, pod("imposter", { app: "web" })])(listBy({ app: "web" }))).toMatchObject({ allowed: false });
      expect(await cluster([pods.web1, pod("imposter", { app: "web" }, undefined, false)])(listBy({ app: "web" }))).toMatchObject({
        allowed: false,
      });
      const ask = cluster([pods.web1]);
      expect(await ask(listBy({ tier: "front" }))).toMatchObject({ allowed: false });
      expect(await ask({ verb: "list" })).toMatchObject({ allowed: false });
      expect(
        await ask({ verb: "list", labelSelector: { requirements: [{ key: "app", operator: "In", values: ["web", "api"] }] } }),
      ).toMatchObject({ allowed: false });
      expect(await ask({ verb: "list", labelSelector: { requirements: [{ key: "app", operator: "Exists" }] } })).toMatchObject({
        allowed: false,
      });
    },
  );

  test("other verbs, subresources, groups and resources are left to RBAC", async () => {
    const ask = cluster([pods.web1]);
    for (const attrs of [
      { verb: "delete", name: "web-1-a" },
      { verb: "get", subresource: "exec", name: "web-1-a" },
      { verb: "create", subresource: "portforward", name: "web-1-a" },
      { verb: "get", name: "web-1-a", group: "apps" },
    ]) {
      expect(await ask(attrs)).toMatchObject({ allowed: false });
    }
    expect(await ask({ verb: "get", name: "web-1-a", resource: "secrets" })).toMatchObject({ allowed: false });
  });
});

describe("who", () => {
  test("a grant counts until it expires; a binding podlogreader did not make never counts", async () => {
    const ask = (bindings: RoleBinding[], user: string, groups: string[] = []) =>
      cluster([pods.web1], bindings)(logOf("web-1-a"), user, groups);
    expect(await ask([grant({ kind: "User", name: "alice" }, NOW + 60_000)], "alice")).toMatchObject({ allowed: true });
    expect(await ask([grant({ kind: "Group", name: "devs" }, NOW + 60_000)], "bob", ["devs"])).toMatchObject({ allowed: true });
    expect(await ask([grant({ kind: "User", name: "alice" }, NOW)], "alice")).toMatchObject({ allowed: false });
    expect(await ask([foreign], "mallory")).toMatchObject({ allowed: false });
    expect(await ask([managedBinding], "system:serviceaccount:other:podlogreader-web")).toMatchObject({ allowed: false });
    expect(await ask([managedBinding], "alice", [SA])).toMatchObject({ allowed: false });
  });
});

describe("what is read", () => {
  test("a subject that no binding of podlogreader's names gets no opinion before anything is read from the apiserver", async () => {
    const world = new World();
    for (const w of [web, rs]) world.updateWorkload(undefined, w);
    world.updatePod(undefined, pods.web1.facts);
    const asked: string[] = [];
    const gather = async (ask: Ask): Promise<Evidence> => {
      asked.push(ask.user);
      return ask.kind === "pod" ? { pod: pods.web1.facts } : { matching: [pods.web1.facts] };
    };
    const review = (user: string, attrs: Record<string, unknown>, groups: string[] = []) =>
      authorize(
        {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: { user, groups, resourceAttributes: { namespace: "ns", resource: "pods", ...attrs } },
        },
        gather,
        { world, bindings: () => [managedBinding, grant({ kind: "Group", name: "devs" }, NOW - 1)] },
        () => NOW,
      );
    for (const attrs of [logOf("web-1-a"), listBy({ app: "web" })]) {
      expect(await review("mallory", attrs)).toMatchObject({ allowed: false, reason: "mallory is bound to no workload's Role in ns" });
      expect(await review("system:serviceaccount:other:podlogreader-web", attrs)).toMatchObject({ allowed: false });
    }
    expect(asked).toEqual([]);
    // Named by a binding: read, then decided (an expired grant is read for, and still refused).
    expect(await review(SA, logOf("web-1-a"))).toMatchObject({ allowed: true });
    expect(await review("bob", logOf("web-1-a"), ["devs"])).toMatchObject({
      allowed: false,
      reason: "not bound to the Role of Deployment/web",
    });
    expect(asked).toEqual([SA, "bob"]);
  });
});

describe("selectors", () => {
  test("a request is within a workload's selector when each of the selector's requirements follows from one of the request's", () => {
    const sel = { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "NotIn", values: ["db"] }] };
    expect(
      narrowerThan(
        [
          { key: "app", operator: "In", values: ["web"] },
          { key: "tier", operator: "In", values: ["front"] },
        ],
        sel,
      ),
    ).toBe(true);
    expect(
      narrowerThan(
        [
          { key: "app", operator: "In", values: ["web"] },
          { key: "tier", operator: "NotIn", values: ["db", "cache"] },
        ],
        sel,
      ),
    ).toBe(true);
    expect(narrowerThan([{ key: "app", operator: "In", values: ["web"] }], sel)).toBe(false);
    expect(
      narrowerThan(
        [
          { key: "app", operator: "In", values: ["web"] },
          { key: "tier", operator: "In", values: ["db"] },
        ],
        sel,
      ),
    ).toBe(false);
    expect(narrowerThan([{ key: "app", operator: "In", values: ["web"] }], { matchLabels: {} })).toBe(false);
    expect(narrowerThan([{ key: "app", operator: "In", values: ["web"] }], undefined)).toBe(false);
  });

  test("requirements are written back as the apiserver reads a labelSelector, or not at all", () => {
    expect(
      selectorString([
        { key: "app", operator: "In", values: ["web"] },
        { key: "x", operator: "NotIn", values: ["a", "b"] },
        { key: "y", operator: "Exists" },
        { key: "z", operator: "DoesNotExist" },
      ]),
    ).toBe("app in (web),x notin (a,b),y,!z");
    expect(selectorString([{ key: "app", operator: "In", values: ["web),other in (x"] }])).toBeUndefined();
    expect(selectorString([{ key: "app", operator: "In", values: [] }])).toBeUndefined();
    expect(selectorString([])).toBeUndefined();
  });
});

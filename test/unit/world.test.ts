import { describe, expect, test } from "bun:test";
import { parseDeployment, parsePod, World, type OwnedRef } from "../../src/controller/world.ts";

const deployment = (name: string, uid: string, optedIn = true) => ({ namespace: "ns", name, uid, optedIn });
const rs = (name: string, uid: string, ownerUid?: string, kind = "Deployment"): OwnedRef => ({ namespace: "ns", name, uid, controllerKind: ownerUid ? kind : undefined, controllerUid: ownerUid });
const pod = (name: string, ownerUid?: string, kind = "ReplicaSet", namespace = "ns"): OwnedRef => ({ namespace, name, uid: `uid-${name}`, controllerKind: ownerUid ? kind : undefined, controllerUid: ownerUid });

function world() {
  const w = new World();
  w.updateDeployment(undefined, deployment("web", "d1"));
  w.updateDeployment(undefined, deployment("api", "d2"));
  w.updateReplicaSet(undefined, rs("web-1", "r1", "d1"));
  w.updateReplicaSet(undefined, rs("web-2", "r2", "d1"));
  w.updateReplicaSet(undefined, rs("api-1", "r3", "d2"));
  return w;
}

describe("membership follows controller ownerReferences by UID", () => {
  test("a Deployment's pods are those of all its ReplicaSets", () => {
    const w = world();
    for (const p of [pod("web-1-a", "r1"), pod("web-2-b", "r2"), pod("api-1-c", "r3")]) w.updatePod(undefined, p);
    expect(w.podNamesOf(deployment("web", "d1")).sort()).toEqual(["web-1-a", "web-2-b"]);
    expect(w.podNamesOf(deployment("api", "d2"))).toEqual(["api-1-c"]);
  });

  test.each([
    ["no owner", pod("bare")],
    ["an owner that is not a ReplicaSet", pod("job-pod", "r1", "Job")],
    ["a ReplicaSet UID nobody has", pod("forged", "r-unknown")],
    ["a ReplicaSet in another namespace", pod("elsewhere", "r1", "ReplicaSet", "other")],
  ])("a pod with %s belongs to no Deployment", (_, p) => {
    const w = world();
    w.updatePod(undefined, p);
    expect(w.deploymentOfPod(p)).toBeUndefined();
    expect(w.podNamesOf(deployment("web", "d1"))).toEqual([]);
  });

  test("a ReplicaSet without a Deployment owner puts its pods in no Deployment", () => {
    const w = world();
    w.updateReplicaSet(undefined, rs("standalone", "r9"));
    const p = pod("standalone-x", "r9");
    w.updatePod(undefined, p);
    expect(w.deploymentOfPod(p)).toBeUndefined();
  });

  test("a deleted pod leaves its Deployment", () => {
    const w = world();
    const p = pod("web-1-a", "r1");
    w.updatePod(undefined, p);
    w.updatePod(p, undefined);
    expect(w.podNamesOf(deployment("web", "d1"))).toEqual([]);
  });

  test("a pod adopted by another ReplicaSet moves with it", () => {
    const w = world();
    const before = pod("p", "r1");
    const after = pod("p", "r3");
    w.updatePod(undefined, before);
    w.updatePod(before, after);
    expect(w.podNamesOf(deployment("web", "d1"))).toEqual([]);
    expect(w.podNamesOf(deployment("api", "d2"))).toEqual(["p"]);
  });
});

describe("opting in", () => {
  const d = (labels: Record<string, string> | undefined, metaLabels: Record<string, string> = {}) => ({
    metadata: { name: "web", namespace: "ns", uid: "u", resourceVersion: "1", labels: metaLabels },
    spec: { template: { metadata: { labels } } },
  });

  test.each([
    [{ "podlogreader-affiliate": "enable" }, true],
    [{ "podlogreader-affiliate": "enabled" }, false],
    [{ "podlogreader-affiliate": "Enable" }, false],
    [{ "podlogreader-affiliate": "" }, false],
    [{}, false],
    [undefined, false],
  ])("template labels %p opt in: %p", (labels, expected) => {
    expect(parseDeployment(d(labels)).optedIn).toBe(expected);
  });

  test("the label on the Deployment's own metadata does not opt it in", () => {
    expect(parseDeployment(d({}, { "podlogreader-affiliate": "enable" })).optedIn).toBe(false);
  });

  test("a pod without the exact label value is refused", () => {
    const raw = { metadata: { name: "p", namespace: "ns", uid: "u", resourceVersion: "1", labels: { "podlogreader-affiliate": "yes" } } };
    expect(() => parsePod(raw)).toThrow("lacks podlogreader-affiliate=enable");
  });
});

import { describe, expect, test } from "bun:test";
import type { WorkloadKind } from "../../../src/access/kinds.ts";
import { parsePod, parseWorkload, World, type Owned, type Workload } from "../../../src/access/membership.ts";
import { applyPodEvent } from "../../../src/access/routing.ts";

const w = (kind: WorkloadKind, name: string, uid: string, owner?: { kind: string; uid: string }, optedIn = true): Workload => ({
  kind,
  namespace: "ns",
  name,
  uid,
  optedIn,
  controllerKind: owner?.kind,
  controllerUid: owner?.uid,
});
const pod = (name: string, owner?: { kind: string; uid: string }, namespace = "ns"): Owned => ({
  namespace,
  name,
  uid: `uid-${name}`,
  controllerKind: owner?.kind,
  controllerUid: owner?.uid,
});

/** A namespace with one workload of each kind, and the middle links of the two-step chains. */
function sampleWorld() {
  const d = w("Deployment", "web", "d1");
  const cj = w("CronJob", "nightly", "c1");
  const objects = [
    d,
    w("ReplicaSet", "web-1", "r1", { kind: "Deployment", uid: "d1" }),
    w("ReplicaSet", "web-2", "r2", { kind: "Deployment", uid: "d1" }),
    w("ReplicaSet", "solo", "r3"),
    w("StatefulSet", "web", "s1"),
    w("DaemonSet", "agent", "a1"),
    w("Job", "once", "j1"),
    cj,
    w("Job", "nightly-1", "j2", { kind: "CronJob", uid: "c1" }),
    w("Job", "nightly-2", "j3", { kind: "CronJob", uid: "c1" }),
  ];
  const world = new World();
  for (const o of objects) world.updateWorkload(undefined, o);
  const pods = [
    pod("web-1-a", { kind: "ReplicaSet", uid: "r1" }),
    pod("web-2-b", { kind: "ReplicaSet", uid: "r2" }),
    pod("solo-c", { kind: "ReplicaSet", uid: "r3" }),
    pod("web-0", { kind: "StatefulSet", uid: "s1" }),
    pod("agent-x", { kind: "DaemonSet", uid: "a1" }),
    pod("once-y", { kind: "Job", uid: "j1" }),
    pod("nightly-1-z", { kind: "Job", uid: "j2" }),
    pod("nightly-2-z", { kind: "Job", uid: "j3" }),
  ];
  for (const p of pods) world.updatePod(undefined, p);
  const get = (kind: WorkloadKind, name: string) => world.get(kind, "ns", name)!;
  return { world, get, pods };
}

describe("membership follows controller ownerReferences by UID", () => {
  test.each([
    ["Deployment", "web", ["web-1-a", "web-2-b"]],
    ["ReplicaSet", "solo", ["solo-c"]],
    ["StatefulSet", "web", ["web-0"]],
    ["DaemonSet", "agent", ["agent-x"]],
    ["Job", "once", ["once-y"]],
    ["CronJob", "nightly", ["nightly-1-z", "nightly-2-z"]],
  ] as const)("a %s %s has exactly its pods", (kind, name, expected) => {
    const { world, get } = sampleWorld();
    expect(world.podNamesOf(get(kind, name)).sort()).toEqual([...expected]);
  });

  test("a Deployment and a StatefulSet of the same name keep their pods apart", () => {
    const { world, get } = sampleWorld();
    expect(world.podNamesOf(get("Deployment", "web"))).not.toContain("web-0");
    expect(world.podNamesOf(get("StatefulSet", "web"))).toEqual(["web-0"]);
  });

  test("a ReplicaSet a Deployment owns belongs to the Deployment and is not a workload itself", () => {
    const { world, get } = sampleWorld();
    expect(world.resolve(get("ReplicaSet", "web-1"))?.kind).toBe("Deployment");
    expect(world.workloadOfPod(pod("x", { kind: "ReplicaSet", uid: "r1" }))?.name).toBe("web");
  });

  test("a Job a CronJob owns belongs to the CronJob", () => {
    const { world, get } = sampleWorld();
    expect(world.resolve(get("Job", "nightly-1"))).toMatchObject({ kind: "CronJob", name: "nightly" });
  });

  test.each([
    ["no owner", pod("bare")],
    ["an owner kind that owns no pods", pod("odd", { kind: "Deployment", uid: "d1" })],
    ["a UID nobody has", pod("forged", { kind: "ReplicaSet", uid: "nope" })],
    ["the right UID under the wrong kind", pod("liar", { kind: "StatefulSet", uid: "r1" })],
    ["an owner in another namespace", pod("elsewhere", { kind: "ReplicaSet", uid: "r1" }, "other")],
  ])("a pod with %s belongs to no workload", (_, p) => {
    const { world } = sampleWorld();
    expect(world.workloadOfPod(p)).toBeUndefined();
  });

  test("a Job with only a stray non-controller reference is a workload of its own, not the CronJob's", () => {
    const { world } = sampleWorld();
    // parseWorkload keeps controller references only; a non-controller one leaves no trace.
    const job = parseWorkload("Job")({
      metadata: {
        name: "stray",
        namespace: "ns",
        uid: "j9",
        resourceVersion: "1",
        ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "nightly", uid: "c1", controller: false }],
      },
      spec: { template: { metadata: { labels: { "podlogreader-affiliate": "enable" } } } },
    });
    world.updateWorkload(undefined, job);
    world.updatePod(undefined, pod("stray-p", { kind: "Job", uid: "j9" }));
    expect(world.resolve(job)).toBe(job);
    expect(world.podNamesOf(world.get("CronJob", "ns", "nightly")!)).not.toContain("stray-p");
  });

  test("a ReplicaSet whose Deployment was deleted counts for nothing until it is orphaned", () => {
    const { world, get } = sampleWorld();
    const d = get("Deployment", "web");
    world.updateWorkload(d, undefined);
    const rs = get("ReplicaSet", "web-1");
    expect(world.resolve(rs)).toBeUndefined();
    expect(world.workloadOfPod(pod("web-1-a", { kind: "ReplicaSet", uid: "r1" }))).toBeUndefined();
  });

  test("a ReplicaSet controlled by something other than a Deployment belongs to nothing", () => {
    const { world } = sampleWorld();
    const rs = w("ReplicaSet", "rollout-1", "r7", { kind: "Rollout", uid: "x" });
    world.updateWorkload(undefined, rs);
    expect(world.resolve(rs)).toBeUndefined();
  });

  test.each([["ReplicaSet first"], ["Job first"]])(
    "a ReplicaSet and a Job of the same name pointing at the same controller UID do not replace each other (%s)",
    (order) => {
      // The Job's reference is forged: it names the Deployment's UID. The ReplicaSet's pods stay the Deployment's.
      const world = new World();
      const d = w("Deployment", "web", "d1");
      const rs = w("ReplicaSet", "x", "r1", { kind: "Deployment", uid: "d1" });
      const job = w("Job", "x", "j1", { kind: "Deployment", uid: "d1" });
      world.updateWorkload(undefined, d);
      for (const o of order === "ReplicaSet first" ? [rs, job] : [job, rs]) world.updateWorkload(undefined, o);
      world.updatePod(undefined, pod("x-a", { kind: "ReplicaSet", uid: "r1" }));
      world.updatePod(undefined, pod("x-b", { kind: "Job", uid: "j1" }));
      expect(world.podNamesOf(d)).toEqual(["x-a"]);
      world.updateWorkload(job, undefined);
      expect(world.podNamesOf(d)).toEqual(["x-a"]);
    },
  );

  test("a deleted pod leaves its workload; an adopted pod moves", () => {
    const { world, get } = sampleWorld();
    const p = pod("web-1-a", { kind: "ReplicaSet", uid: "r1" });
    world.updatePod(p, undefined);
    expect(world.podNamesOf(get("Deployment", "web"))).toEqual(["web-2-b"]);
    const q = pod("web-2-b", { kind: "ReplicaSet", uid: "r2" });
    world.updatePod(q, pod("web-2-b", { kind: "ReplicaSet", uid: "r3" }));
    expect(world.podNamesOf(get("Deployment", "web"))).toEqual([]);
    expect(world.podNamesOf(get("ReplicaSet", "solo")).sort()).toEqual(["solo-c", "web-2-b"]);
  });
});

describe("opting in is decided by the workload's own pod template", () => {
  const raw = (spec: object, metaLabels: Record<string, string> = {}) => ({
    metadata: { name: "w", namespace: "ns", uid: "u", resourceVersion: "1", labels: metaLabels },
    spec,
  });
  const template = (labels?: Record<string, string>) => ({ template: { metadata: { labels } } });

  test.each([
    [{ "podlogreader-affiliate": "enable" }, true],
    [{ "podlogreader-affiliate": "enabled" }, false],
    [{ "podlogreader-affiliate": "Enable" }, false],
    [{ "podlogreader-affiliate": "" }, false],
    [{}, false],
    [undefined, false],
  ])("template labels %p opt in: %p", (labels, expected) => {
    for (const kind of ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"] as const) {
      expect(parseWorkload(kind)(raw(template(labels))).optedIn).toBe(expected);
    }
  });

  test("a CronJob opts in through .spec.jobTemplate.spec.template", () => {
    expect(parseWorkload("CronJob")(raw({ jobTemplate: { spec: template({ "podlogreader-affiliate": "enable" }) } })).optedIn).toBe(true);
    expect(parseWorkload("CronJob")(raw(template({ "podlogreader-affiliate": "enable" }))).optedIn).toBe(false);
  });

  test("the label on the workload's own metadata does not opt it in", () => {
    expect(parseWorkload("Deployment")(raw(template({}), { "podlogreader-affiliate": "enable" })).optedIn).toBe(false);
  });

  test("a pod without the exact label value is refused", () => {
    const pod = { metadata: { name: "p", namespace: "ns", uid: "u", resourceVersion: "1", labels: { "podlogreader-affiliate": "yes" } } };
    expect(() => parsePod(pod)).toThrow("lacks podlogreader-affiliate=enable");
  });
});

describe("arrivals while a ReplicaSet is still making pods", () => {
  const rs = (replicas: number | undefined) => ({ ...w("ReplicaSet", "web-1", "r1", { kind: "Deployment", uid: "d1" }), replicas });
  const world = (replicas: number | undefined) => {
    const world = new World();
    world.updateWorkload(undefined, w("Deployment", "web", "d1"));
    world.updateWorkload(undefined, rs(replicas));
    return world;
  };
  const arrive = (world: World, name: string) => applyPodEvent(world, undefined, pod(name, { kind: "ReplicaSet", uid: "r1" }));

  test("are marked to gather while the ReplicaSet has fewer pods than its spec.replicas; the one that completes it is a batch", () => {
    const w3 = world(3);
    expect(arrive(w3, "a")).toEqual([{ key: "Deployment/ns/web", urgency: "gather" }]);
    expect(arrive(w3, "b")).toEqual([{ key: "Deployment/ns/web", urgency: "gather" }]);
    expect(arrive(w3, "c")).toEqual([{ key: "Deployment/ns/web", urgency: "batch" }]);
  });

  test("a lone replacement in a full ReplicaSet is a batch, written at once", () => {
    const w1 = world(1);
    expect(arrive(w1, "a")).toEqual([{ key: "Deployment/ns/web", urgency: "batch" }]);
  });

  test("a ReplicaSet whose watch has not yet shown its new size is taken at its word", () => {
    const w2 = world(2);
    arrive(w2, "a");
    arrive(w2, "b");
    expect(arrive(w2, "c")).toEqual([{ key: "Deployment/ns/web", urgency: "batch" }]);
  });

  test("the hint is for ReplicaSets only: a StatefulSet's pods come one by one and are each written at once", () => {
    const s = new World();
    s.updateWorkload(undefined, w("StatefulSet", "db", "s1"));
    expect(applyPodEvent(s, undefined, pod("db-0", { kind: "StatefulSet", uid: "s1" }))).toEqual([
      { key: "StatefulSet/ns/db", urgency: "batch" },
    ]);
  });

  test("parseWorkload reads a ReplicaSet's spec.replicas, 1 when absent, and no other kind's", () => {
    const raw = (kind: string, spec: object) => ({
      kind,
      metadata: { name: "x", namespace: "ns", uid: "u", resourceVersion: "1" },
      spec: { template: { metadata: {} }, ...spec },
    });
    expect(parseWorkload("ReplicaSet")(raw("ReplicaSet", { replicas: 4 })).replicas).toBe(4);
    expect(parseWorkload("ReplicaSet")(raw("ReplicaSet", {})).replicas).toBe(1);
    expect(parseWorkload("StatefulSet")(raw("StatefulSet", { replicas: 4 })).replicas).toBeUndefined();
  });
});

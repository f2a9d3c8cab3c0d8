// The audit's own membership: controller ownerReferences by UID, opt-in from the workload's template.
import { describe, expect, test } from "bun:test";
import { membership, workloadId } from "../../../../src/admin/audit/members.ts";

const OPT_IN = { "podlogreader-affiliate": "enable" };
const ref = (kind: string, uid: string, controller = true) => ({ apiVersion: "x", kind, name: "n", uid, controller });
const meta = (name: string, uid: string, owner?: ReturnType<typeof ref>, namespace = "ns") => ({
  name,
  namespace,
  uid,
  ownerReferences: owner ? [owner] : undefined,
});
const workload = (name: string, uid: string, opts: { owner?: ReturnType<typeof ref>; optIn?: boolean; cron?: boolean } = {}) => {
  const template = { metadata: { labels: opts.optIn === false ? { app: name } : { app: name, ...OPT_IN } } };
  return { metadata: meta(name, uid, opts.owner), spec: opts.cron ? { jobTemplate: { spec: { template } } } : { template } };
};
const pod = (name: string, owner?: ReturnType<typeof ref>, namespace = "ns") => ({
  metadata: meta(name, `p-${name}-${namespace}`, owner, namespace),
});

function cluster() {
  return membership(
    {
      Deployment: [workload("web", "d1"), workload("off", "d2", { optIn: false })],
      ReplicaSet: [
        workload("web-1", "r1", { owner: ref("Deployment", "d1") }),
        workload("off-1", "r2", { owner: ref("Deployment", "d2") }),
        workload("solo", "r3"),
        // Claims a Deployment UID that does not exist: belongs to nobody.
        workload("orphan", "r4", { owner: ref("Deployment", "gone") }),
        // Its own template opted in, but its Deployment's did not: the Deployment decides.
        workload("off-2", "r5", { owner: ref("Deployment", "d2") }),
      ],
      StatefulSet: [workload("db", "s1")],
      DaemonSet: [],
      Job: [workload("nightly-1", "j1", { owner: ref("CronJob", "c1") }), workload("once", "j2")],
      CronJob: [workload("nightly", "c1", { cron: true })],
    },
    [
      pod("web-1-a", ref("ReplicaSet", "r1")),
      pod("web-1-b", ref("ReplicaSet", "r1")),
      pod("off-1-a", ref("ReplicaSet", "r2")),
      pod("off-2-a", ref("ReplicaSet", "r5")),
      pod("solo-a", ref("ReplicaSet", "r3")),
      pod("orphan-a", ref("ReplicaSet", "r4")),
      pod("db-0", ref("StatefulSet", "s1")),
      pod("nightly-1-x", ref("Job", "j1")),
      pod("once-x", ref("Job", "j2")),
      // A UID of the right object under the wrong kind, a non-controller reference, a pod in another namespace.
      pod("liar", ref("StatefulSet", "r1")),
      pod("friend", ref("ReplicaSet", "r1", false)),
      pod("far", ref("ReplicaSet", "r1"), "other"),
      pod("bare"),
    ],
  );
}

describe("audit membership", () => {
  const m = cluster();
  const podsOf = (kind: string, name: string) => m.workloads.get(workloadId(kind, "ns", name))?.pods;
  test.each([
    ["Deployment", "web", ["web-1-a", "web-1-b"]],
    ["Deployment", "off", []],
    ["ReplicaSet", "solo", ["solo-a"]],
    ["ReplicaSet", "orphan", []],
    ["StatefulSet", "db", ["db-0"]],
    ["CronJob", "nightly", ["nightly-1-x"]],
    ["Job", "once", ["once-x"]],
    ["Job", "nightly-1", []],
  ])("%s %s has pods %p", (kind, name, pods) => {
    expect(podsOf(kind, name)).toEqual(pods);
  });

  test("a ReplicaSet or Job with a controller is not a workload of its own", () => {
    expect(m.workloads.get(workloadId("ReplicaSet", "ns", "web-1"))?.standalone).toBe(false);
    expect(m.workloads.get(workloadId("Job", "nightly-1", "ns"))).toBeUndefined();
    expect(m.workloads.get(workloadId("Job", "ns", "nightly-1"))?.standalone).toBe(false);
    expect(m.workloads.get(workloadId("ReplicaSet", "ns", "solo"))?.standalone).toBe(true);
  });

  test("every pod is known by name, member or not", () => {
    expect([...m.podsByNamespace.get("ns")!].sort()).toContain("liar");
    expect(m.memberOf.has("ns/liar")).toBe(false);
    expect(m.memberOf.has("ns/friend")).toBe(false);
    expect(m.memberOf.has("other/far")).toBe(false);
    expect(m.memberOf.get("ns/web-1-a")).toBe("Deployment/ns/web");
  });
});

// Every workload kind on the real control plane, with kube-controller-manager running the kind's
// controller. Each kind shares its namespace with an opted-in Deployment of the same name, and
// each ServiceAccount must read its own workload's pods and no other's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { KINDS, type WorkloadKind } from "../../src/access/kinds.ts";
import { managedName } from "../../src/access/names.ts";
import { Pods, Roles, type ResourceType } from "../../src/kube/resources.ts";
import { isNotFound } from "../../src/kube/transport.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, TEST_FIELD_MANAGER, testCluster, useNamespace, waitUntilGone, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createNode } from "../../scripts/harness/simulated-nodes.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";

const Nodes: ResourceType = { group: "", version: "v1", plural: "nodes", kind: "Node" };

let c: TestCluster;
beforeAll(async () => {
  c = await testCluster();
});

const podTemplate = (app: string, extra: object = {}) => ({
  metadata: { labels: { app, ...OPT_IN } },
  spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0, ...extra },
});

async function podsWith(namespace: string, app: string): Promise<V1Pod[]> {
  return (await c.admin.list(Pods, { namespace, labelSelector: `app=${app}` })).items as V1Pod[];
}

/** Waits until exactly `count` pods labelled app=`app` exist, and returns their names. */
function waitForApp(
  namespace: string,
  app: string,
  count: number,
  accept: (p: V1Pod[]) => boolean = () => true,
  timeoutMs?: number,
): Promise<string[]> {
  return eventually(
    `${count} pods app=${app}`,
    async () => {
      const pods = (await podsWith(namespace, app)).filter((p) => !p.metadata?.deletionTimestamp);
      return pods.length === count && accept(pods) ? pods.map((p) => p.metadata!.name!).sort() : undefined;
    },
    timeoutMs,
  );
}

async function patch(rt: ResourceType, namespace: string | undefined, name: string, body: object, subresource?: string) {
  await c.admin.mergePatch(rt, namespace, name, body, { subresource, fieldManager: TEST_FIELD_MANAGER });
}

async function remove(rt: ResourceType, namespace: string | undefined, name: string) {
  await c.admin.delete(rt, namespace, name).catch((e) => {
    if (!isNotFound(e)) throw e;
  });
}

/** What a pod reports when its containers ran to completion, as a kubelet would write it. */
async function markSucceeded(namespace: string, pod: string) {
  await patch(
    Pods,
    namespace,
    pod,
    { status: { phase: "Succeeded", conditions: [{ type: "Ready", status: "False", reason: "PodCompleted" }] } },
    "status",
  );
}

/** A namespace with the kind under test and an opted-in Deployment of the same name, and a controller. */
function kindSuite(kind: WorkloadKind, body: (ctx: { ns: () => string; sa: string }) => void) {
  describe(kind, () => {
    let ns: string;
    let controller: RunningController;
    beforeAll(async () => {
      ns = await useNamespace(kind.toLowerCase());
      controller = await startController([ns]);
      await createDeployment(ns, "web", { replicas: 1 });
    });
    afterAll(() => controller.stop());
    body({ ns: () => ns, sa: managedName(kind, "web") });
  });
}

async function create(kind: WorkloadKind, namespace: string, spec: object, name = "web") {
  const { resource, apiVersion } = KINDS[kind];
  return (await c.admin.create(resource, namespace, { apiVersion, kind, metadata: { name }, spec })) as {
    metadata: { uid: string; name: string };
  };
}

/** Its own pods are readable; the same-named Deployment's pods are not, and the other way round. */
async function expectSeparate(ns: string, sa: string, own: string[]) {
  const deploymentPods = await waitForPods(ns, "web", 1);
  await expectReadable(ns, sa, own);
  await expectReadable(ns, "podlogreader-web", deploymentPods);
}

kindSuite("StatefulSet", ({ ns, sa }) => {
  test("its pods are readable, the same-named Deployment's are not", async () => {
    await create("StatefulSet", ns(), {
      replicas: 2,
      serviceName: "web",
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: "sts-web" } },
      template: podTemplate("sts-web"),
    });
    const pods = await waitForApp(ns(), "sts-web", 2);
    expect(pods).toEqual(["web-0", "web-1"]);
    await expectSeparate(ns(), sa, pods);
    expect(await serviceAccountCan(c.admin, ns(), sa, { verb: "get", resource: "statefulsets", group: "apps", name: "web" })).toBe(true);
  });

  test("scaling is followed", async () => {
    await patch(KINDS.StatefulSet.resource, ns(), "web", { spec: { replicas: 3 } });
    await expectReadable(ns(), sa, await waitForApp(ns(), "sts-web", 3));
    await patch(KINDS.StatefulSet.resource, ns(), "web", { spec: { replicas: 1 } });
    await expectReadable(ns(), sa, await waitForApp(ns(), "sts-web", 1));
  });

  test("a pod deleted and recreated under the same name stays readable", async () => {
    const before = (await c.admin.get(Pods, ns(), "web-0")) as V1Pod;
    await c.admin.delete(Pods, ns(), "web-0");
    await eventually("web-0 to come back as a new pod", async () => {
      const now = (await c.admin.get(Pods, ns(), "web-0").catch(() => undefined)) as V1Pod | undefined;
      return now && now.metadata?.uid !== before.metadata?.uid ? true : undefined;
    });
    await expectReadable(ns(), sa, ["web-0"]);
  });

  test("the Role is removed with the StatefulSet", async () => {
    await remove(KINDS.StatefulSet.resource, ns(), "web");
    await waitUntilGone(Roles, ns(), sa);
  });
});

kindSuite("DaemonSet", ({ ns, sa }) => {
  const nodes: string[] = [];
  const addNode = async (pool: string) => {
    const name = `node-${pool}-${nodes.length}`;
    // A simulated node (kwok plays its kubelet), so the DaemonSet's pod is scheduled and runs there.
    await createNode(c.admin, name, { "podlogreader-test/pool": pool });
    nodes.push(name);
    return name;
  };
  afterAll(async () => {
    for (const n of nodes) await remove(Nodes, undefined, n);
  });

  test("one pod per node, readable; the same-named Deployment's are not", async () => {
    const pool = ns().slice(-20);
    await addNode(pool);
    await addNode(pool);
    await create("DaemonSet", ns(), {
      selector: { matchLabels: { app: "ds-web" } },
      template: podTemplate("ds-web", { nodeSelector: { "podlogreader-test/pool": pool } }),
    });
    await expectSeparate(ns(), sa, await waitForApp(ns(), "ds-web", 2));
  });

  test("its pods follow nodes added and removed", async () => {
    const pool = ns().slice(-20);
    await addNode(pool);
    await expectReadable(ns(), sa, await waitForApp(ns(), "ds-web", 3));
    await remove(Nodes, undefined, nodes.shift()!);
    // The pod garbage collector removes the pod of a deleted node after its 40 s quarantine.
    await expectReadable(ns(), sa, await waitForApp(ns(), "ds-web", 2, undefined, 150_000));
  });

  test("the Role is removed with the DaemonSet", async () => {
    await remove(KINDS.DaemonSet.resource, ns(), "web");
    await waitUntilGone(Roles, ns(), sa);
  });
});

kindSuite("Job", ({ ns, sa }) => {
  test("its pods are readable, and stay readable after they complete", async () => {
    await create("Job", ns(), { parallelism: 2, completions: 2, template: podTemplate("job-web", { restartPolicy: "Never" }) });
    const pods = await waitForApp(ns(), "job-web", 2);
    await expectSeparate(ns(), sa, pods);
    for (const p of pods) await markSucceeded(ns(), p);
    await eventually("the Job to complete", async () => {
      const job = (await c.admin.get(KINDS.Job.resource, ns(), "web")) as { status?: { succeeded?: number } };
      return job.status?.succeeded === 2 || undefined;
    });
    await expectReadable(ns(), sa, pods);
  });

  test("the Role is removed with the Job", async () => {
    await remove(KINDS.Job.resource, ns(), "web");
    await waitUntilGone(Roles, ns(), sa);
  });
});

kindSuite("CronJob", ({ ns, sa }) => {
  let cronJob: { metadata: { uid: string; name: string } };
  const jobTemplate = { spec: { template: podTemplate("cron-web", { restartPolicy: "Never" }) } };
  /** A run, as `kubectl create job --from=cronjob/web` makes it. */
  const run = async (name: string) => {
    const { resource, apiVersion } = KINDS.Job;
    await c.admin.create(resource, ns(), {
      apiVersion,
      kind: "Job",
      metadata: {
        name,
        ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "web", uid: cronJob.metadata.uid, controller: true }],
      },
      spec: jobTemplate.spec,
    });
  };
  const podsOfJob = async (job: string) =>
    (await podsWith(ns(), "cron-web")).filter((p) => p.metadata?.labels?.["job-name"] === job).map((p) => p.metadata!.name!);

  test("the pods of all its current Jobs are readable; the same-named Deployment's are not", async () => {
    cronJob = await create("CronJob", ns(), { schedule: "0 0 1 1 *", successfulJobsHistoryLimit: 1, jobTemplate });
    await run("web-run-1");
    await run("web-run-2");
    await expectSeparate(ns(), sa, await waitForApp(ns(), "cron-web", 2));
    expect(await serviceAccountCan(c.admin, ns(), sa, { verb: "list", resource: "pods" })).toBe(true);
  });

  test("a new run is followed, and old runs leave when the history limit deletes them", async () => {
    const first = await podsOfJob("web-run-1");
    for (const job of ["web-run-1", "web-run-2"]) for (const p of await podsOfJob(job)) await markSucceeded(ns(), p);
    await run("web-run-3");
    // Two finished runs, a history limit of one: the CronJob controller deletes the older.
    await eventually("the oldest run to be deleted", async () => {
      const jobs = (await c.admin.list(KINDS.Job.resource, { namespace: ns() })).items as { metadata: { name: string } }[];
      return jobs.some((j) => j.metadata.name === "web-run-1") ? undefined : true;
    });
    const remaining = await waitForApp(ns(), "cron-web", 2, (pods) => pods.every((p) => p.metadata?.labels?.["job-name"] !== "web-run-1"));
    await expectReadable(ns(), sa, remaining, first);
  });

  test("the Role is removed with the CronJob", async () => {
    await remove(KINDS.CronJob.resource, ns(), "web");
    await waitUntilGone(Roles, ns(), sa);
  });
});

kindSuite("ReplicaSet", ({ ns, sa }) => {
  test("a ReplicaSet no Deployment owns is a workload of its own", async () => {
    await create("ReplicaSet", ns(), { replicas: 2, selector: { matchLabels: { app: "rs-web" } }, template: podTemplate("rs-web") });
    await expectSeparate(ns(), sa, await waitForApp(ns(), "rs-web", 2));
    expect(await serviceAccountCan(c.admin, ns(), sa, { verb: "get", resource: "replicasets", group: "apps", name: "web" })).toBe(true);
  });

  test("a ReplicaSet a Deployment owns gets no Role of its own", async () => {
    const [pod] = await waitForPods(ns(), "web", 1);
    const owner = ((await c.admin.get(Pods, ns(), pod!)) as V1Pod).metadata!.ownerReferences![0]!.name;
    await waitUntilGone(Roles, ns(), managedName("ReplicaSet", owner));
  });

  test("the Role is removed with the ReplicaSet", async () => {
    await remove(KINDS.ReplicaSet.resource, ns(), "web");
    await waitUntilGone(Roles, ns(), sa);
  });
});

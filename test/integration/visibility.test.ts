// Pod visibility: in `own` mode a workload's ServiceAccount sees only its own pods, so no other
// pod's spec or termination message (where FallbackToLogsOnError copies the tail of its log) is
// readable; `namespace` mode adds every pod of the namespace, and says so. Asked of the
// apiserver's authorizer (SubjectAccessReview) and, with a real token, of the apiserver itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { Pods, Roles } from "../../src/kube/resources.ts";
import { ApiError, Transport } from "../../src/kube/transport.ts";
import { canReadLog, serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, tokenConnection, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";

const SECRET_TAIL = "panic: connecting with password hunter2";
const sa = managedName("Deployment", "web");

let c: TestCluster;
beforeAll(async () => {
  c = await testCluster();
});

/** A pod outside any workload whose container failed, with the tail of its log in the termination message. */
async function failedPodWithLogTail(namespace: string): Promise<string> {
  const name = "crashed";
  // Bound to a node that does not exist, so nothing but this test writes its status.
  await c.admin.create(Pods, namespace, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      nodeName: "no-such-node",
      containers: [{ name: "app", image: "registry.invalid/app:1", terminationMessagePolicy: "FallbackToLogsOnError" }],
    },
  } as never);
  await c.admin.mergePatch(
    Pods,
    namespace,
    name,
    {
      status: {
        phase: "Failed",
        containerStatuses: [
          {
            name: "app",
            image: "registry.invalid/app:1",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 2, reason: "Error", message: SECRET_TAIL } },
          },
        ],
      },
    },
    { subresource: "status" },
  );
  return name;
}

/** The status code of a request as the ServiceAccount, with a real token. */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
}

async function tokenApi(namespace: string): Promise<KubeApi> {
  return new KubeApi(new Transport(tokenConnection(c, await serviceAccountToken(namespace, sa))));
}

describe("own visibility", () => {
  let ns: string;
  let controller: RunningController;
  let pods: string[];
  let crashed: string;

  beforeAll(async () => {
    ns = await useNamespace("own");
    controller = await startController([ns], { podVisibility: "own" });
    await createDeployment(ns, "web", { replicas: 2 });
    crashed = await failedPodWithLogTail(ns);
    pods = await waitForPods(ns, "web", 2);
    await expectReadable(ns, sa, pods);
  });
  afterAll(() => controller.stop());

  test("the authorizer: no list or watch of pods in the namespace, no get of a pod outside the workload", async () => {
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "list", resource: "pods" })).toBe(false);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "watch", resource: "pods" })).toBe(false);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "get", resource: "pods", name: crashed })).toBe(false);
    expect(await canReadLog(c.admin, ns, sa, crashed)).toBe(false);
    for (const pod of pods) {
      for (const verb of ["get", "list", "watch"])
        expect(await serviceAccountCan(c.admin, ns, sa, { verb, resource: "pods", name: pod })).toBe(true);
    }
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "get", resource: "roles", group: "rbac.authorization.k8s.io", name: sa })).toBe(
      true,
    );
    expect(
      await serviceAccountCan(c.admin, ns, sa, {
        verb: "get",
        resource: "roles",
        group: "rbac.authorization.k8s.io",
        name: "something-else",
      }),
    ).toBe(false);
  });

  test("a real token: the failed pod's termination message is out of reach, its own pods are in reach by name", async () => {
    const api = await tokenApi(ns);
    expect(await statusOf(() => api.list(Pods, { namespace: ns }))).toBe(403);
    expect(await statusOf(() => api.get(Pods, ns, crashed))).toBe(403);
    // Its own pods, one by one, and as a list that selects one name.
    for (const pod of pods) {
      const got = (await api.get(Pods, ns, pod)) as { metadata: { name: string } };
      expect(got.metadata.name).toBe(pod);
      const listed = await api.list(Pods, { namespace: ns, fieldSelector: `metadata.name=${pod}` });
      expect(listed.items.map((p) => (p as { metadata: { name: string } }).metadata.name)).toEqual([pod]);
    }
    // And its own Role, which tells it which pods those are.
    const role = (await api.get(Roles, ns, sa)) as { rules: { resources?: string[]; resourceNames?: string[] }[] };
    expect(role.rules.find((r) => r.resources?.includes("pods/log"))?.resourceNames).toEqual(pods);
  });
});

describe("namespace visibility", () => {
  test("adds get, list and watch of every pod, and with them other pods' termination messages, but never their logs", async () => {
    const ns = await useNamespace("nsvis");
    const controller = await startController([ns], { podVisibility: "namespace" });
    try {
      await createDeployment(ns, "web", { replicas: 1 });
      const crashed = await failedPodWithLogTail(ns);
      const pods = await waitForPods(ns, "web", 1);
      await expectReadable(ns, sa, pods);
      const api = await tokenApi(ns);
      const listed = await eventually(
        "a list of every pod",
        async () => (await api.list(Pods, { namespace: ns })).items as { metadata: { name: string }; status?: unknown }[],
      );
      const tail = JSON.stringify(listed.find((p) => p.metadata.name === crashed)?.status);
      // This is the exposure the README and --help describe for this mode.
      expect(tail).toContain(SECRET_TAIL);
      expect(await canReadLog(c.admin, ns, sa, crashed)).toBe(false);
    } finally {
      await controller.stop();
    }
  });
});

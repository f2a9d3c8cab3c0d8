// The local control plane is real: the controller-manager runs Deployments, the apiserver's RBAC
// authorizer decides log access for a real ServiceAccount token, and TLS is verified.
import { describe, expect, test, beforeAll } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import { TlsVerificationError, Transport } from "../../src/kube/transport.ts";
import { Deployments, Leases, Nodes, RoleBindings, Roles, ServiceAccounts, Pods } from "../../src/kube/resources.ts";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { selfSigned } from "../../scripts/harness/pki.ts";
import { logStatus } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, tokenConnection, useNamespace, type TestCluster } from "../support/cluster.ts";
import { deployment, podsOf, roleBinding, serviceAccountSubject } from "../support/fixtures.ts";
import { rollout } from "../support/workloads.ts";

describe("the local control plane", () => {
  let c: TestCluster;
  let ns: string;
  let pods: V1Pod[];

  beforeAll(async () => {
    c = await testCluster();
    ns = await useNamespace("harness");
    await c.admin.create(Deployments, ns, deployment(ns, "web", { replicas: 2 }));
    pods = await eventually("2 pods of Deployment web", async () => {
      const found = await podsOf(c.admin, ns, "app=web");
      return found.length === 2 ? found : undefined;
    });
  });

  test("runs Deployments: the controller-manager creates a ReplicaSet and pods owned through it", async () => {
    const rsOwners = pods.map((p) => p.metadata?.ownerReferences?.find((o) => o.controller));
    expect(rsOwners.every((o) => o?.kind === "ReplicaSet")).toBe(true);
    const rs = (await c.admin.get({ group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet" }, ns, rsOwners[0]!.name)) as {
      metadata: { ownerReferences: { kind: string; name: string; controller?: boolean }[] };
    };
    expect(rs.metadata.ownerReferences.find((o) => o.controller)).toMatchObject({ kind: "Deployment", name: "web" });
  });

  test("a ServiceAccount's log access is decided by RBAC resourceNames, through a real token", async () => {
    await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader" } });
    const token = await serviceAccountToken(ns, "reader");
    const reader = new KubeApi(new Transport(tokenConnection(c, token)));
    const [first, second] = pods.map((p) => p.metadata!.name!);

    expect(await logStatus(reader, ns, first!)).toBe(403);

    await c.admin.create(Roles, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "read-first" },
      rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: [first!] }],
    });
    await c.admin.create(RoleBindings, ns, roleBinding("read-first", "read-first", [serviceAccountSubject(ns, "reader")]));

    // Authorized now; the pod has no node, so the apiserver answers 400 instead of 403.
    const allowed = await eventually("the first pod's log to be authorized", async () => {
      const status = await logStatus(reader, ns, first!);
      return status === 403 ? undefined : status;
    });
    expect(allowed).not.toBe(403);
    expect(await logStatus(reader, ns, second!)).toBe(403);
  });

  test("a kubeconfig whose CA did not sign the server's certificate fails with a clear TLS error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "podlogreader-badca-"));
    // Throws when openssl fails.
    const otherCa = selfSigned(dir, "other-ca", { subject: "/CN=some-other-ca", days: 1 }).cert;
    const file = join(dir, "kubeconfig");
    writeFileSync(file, kubeconfigYaml(c.server, otherCa, { token: "irrelevant" }));

    const api = new KubeApi(new Transport(loadConnection({ kubeconfig: file })));
    const error = await api.list(Pods).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect((error as Error).message).toContain("does not verify against the CA");
    expect((error as Error).message).toContain(file);
    rmSync(dir, { recursive: true, force: true });
  });

  test("simulated pods report a container ID per container, as a kubelet does (stern skips containers without one)", async () => {
    const running = await eventually("the pods of web to run", async () => {
      const found = await podsOf(c.admin, ns, "app=web");
      return found.every((p) => p.status?.phase === "Running") ? found : undefined;
    });
    for (const pod of running) {
      const statuses = pod.status?.containerStatuses ?? [];
      expect(statuses.map((s) => s.name)).toEqual(pod.spec!.containers.map((c) => c.name));
      for (const s of statuses) expect(s.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    }
    const ids = running.flatMap((p) => p.status!.containerStatuses!.map((s) => s.containerID));
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("the simulated node stays Ready for 90 s: kwok renews its Lease, so the node monitor never marks it NotReady", async () => {
    const node = c.nodes[0]!;
    const renewTime = async () =>
      ((await c.admin.get(Leases, "kube-node-lease", node)) as { spec?: { renewTime?: string } }).spec?.renewTime;
    const firstRenewal = await eventually(`the Lease of ${node}`, renewTime);
    // kube-controller-manager's node-monitor-grace-period is 50 s: a node without heartbeats is marked
    // Unknown within 90 s. kwok's node-ready stage sets it back at once, so only a watch sees every change.
    const { resourceVersion } = await c.admin.list(Nodes);
    const notReady: string[] = [];
    const stop = AbortSignal.timeout(90_000);
    const events = await c.admin.watch(Nodes, { resourceVersion, timeoutSeconds: 100, signal: stop });
    try {
      for await (const event of events) {
        const n = event.object as {
          metadata?: { name?: string };
          status?: { conditions?: { type: string; status: string; reason?: string }[] };
        };
        const ready = n.status?.conditions?.find((x) => x.type === "Ready");
        if (event.type !== "BOOKMARK" && ready?.status !== "True")
          notReady.push(`${n.metadata?.name} Ready=${ready?.status} ${ready?.reason}`);
      }
    } catch (err) {
      if (!stop.aborted) throw err;
    }
    expect(notReady).toEqual([]);
    expect(await renewTime()).not.toBe(firstRenewal);
  }, 150_000);

  test("kubectl rollout status follows a rollout to the end, as on a real cluster", async () => {
    await rollout(ns, "web");
    const proc = Bun.spawn(
      [join(c.binDir, "kubectl"), "--kubeconfig", c.kubeconfig, "-n", ns, "rollout", "status", "deploy/web", "--timeout=120s"],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain(`deployment "web" successfully rolled out`);
  }, 150_000);

  test("kubectl built from source reports v1.37.2", () => {
    const out = spawnSync(join(c.binDir, "kubectl"), ["version", "--client", "-o", "json"], { encoding: "utf8" });
    expect(JSON.parse(out.stdout).clientVersion.gitVersion).toBe("v1.37.2");
  });
});

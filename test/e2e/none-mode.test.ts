// `podlogreader logs`, `status` and `audit` with --role-pod-names=none, on a kube-apiserver that
// calls podlogreader's webhook authorizer: the Role names no pod, so `logs` lists the workload's
// pods by its selector (which only the webhook allows) and reads nothing of another pod; `status`
// shows the mode; `audit` passes such a workload and finds a ServiceAccount allowed to list pods.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { RoleBindings, Roles } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { parseLogsArgs, runLogs, type LogsOptions } from "../../src/commands/logs.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, tokenConnection, type TestCluster } from "../support/cluster.ts";
import type { RunningController } from "../support/controller.ts";
import { scale, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import { lineOf, webhookScene } from "../support/webhook-scene.ts";
import { withLogs } from "../support/pod-logs.ts";

const sa = managedName("Deployment", "web");

let c: TestCluster;
let ns: string;
let dir: string;
let controller: RunningController;
let webPods: string[];
let other: string;
let webKubeconfig: string;

const canLog = (pod: string) =>
  serviceAccountCan(c.admin, ns, sa, { verb: "get", resource: "pods", subresource: "log", name: pod, namespace: ns });

beforeAll(async () => {
  ({ c, ns, dir, controller, webPods, other, webKubeconfig } = await webhookScene("none-mode", { rolePodNames: "none" }));
});
afterAll(async () => {
  await controller?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("podlogreader logs with a Role that names no pod", () => {
  test("the Role names no pod, and web's ServiceAccount may read web's pods but not other's: the webhook decides", async () => {
    const role = (await c.admin.get(Roles, ns, sa)) as { rules?: { resources?: string[]; resourceNames?: string[] }[] };
    expect((role.rules ?? []).filter((r) => r.resources?.some((x) => x.startsWith("pods")))).toEqual([]);
    expect(await canLog(other)).toBe(false);
  });

  test("logs deploy/web prints web's pods' lines and nothing of another pod", async () => {
    // The simulated kubelet serves a pod's log file once it has picked it up.
    const r = await eventually("every web pod's line", async () => {
      const out = await podlogreader(["logs", "deploy/web", "-n", ns], { kubeconfig: webKubeconfig });
      return out.code !== 0 || webPods.every((pod) => out.stdout.includes(lineOf(pod))) ? out : undefined;
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    for (const pod of webPods) expect(r.stdout).toContain(`[pod/${pod}/app] ${lineOf(pod)}`);
    expect(r.stdout).not.toContain(lineOf(other));
    expect(r.stdout.trim().split("\n")).toHaveLength(webPods.length);
  });

  test("logs -f deploy/web follows a pod that web scales up to", async () => {
    const api = new KubeApi(new Transport(tokenConnection(c, await serviceAccountToken(ns, sa))));
    const seen = { stdout: "", stderr: "" };
    const stop = new AbortController();
    const code = runLogs(parseLogsArgs(["deploy/web", "-n", ns, "-f"]) as LogsOptions, {
      stdout: { write: (s: string) => (seen.stdout += s), isTTY: false },
      stderr: { write: (s: string) => (seen.stderr += s) },
      env: {},
      signal: stop.signal,
      api,
    });
    try {
      for (const pod of webPods) await eventually(`${pod}'s line`, async () => seen.stdout.includes(lineOf(pod)) || undefined);
      await scale(ns, "web", 3);
      const now = await waitForPods(ns, "web", 3);
      const [added] = now.filter((p) => !webPods.includes(p)) as [string];
      await withLogs(ns, [added], (p) => [lineOf(p)]);
      await eventually(`${added}'s line`, async () => seen.stdout.includes(`[pod/${added}/app] ${lineOf(added)}`) || undefined);
      expect(seen.stderr).toContain(`+ pod/${added}: now one of Deployment/web's pods; following it`);
      expect(seen.stdout).not.toContain(lineOf(other));
    } finally {
      stop.abort();
      expect(await code).toBe(0);
    }
    await scale(ns, "web", 2);
    webPods = await waitForPods(ns, "web", 2);
  });
});

describe("podlogreader status with a Role that names no pod", () => {
  test("shows the mode none, and the Role in sync", async () => {
    const r = await podlogreader(["status", "-n", ns, "--output", "json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; pods: number; mode?: string; state: string }[];
    expect(rows.find((x) => x.name === "web")).toMatchObject({ pods: 2, mode: "none", state: "in-sync" });
    const table = await podlogreader(["status", "-n", ns]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAMESPACE\s+KIND\s+NAME\s+PODS\s+ROLE\s+MODE\s+STATE\s+LAST-SYNCED$/);
    expect(table.stdout).toMatch(new RegExp(`${ns}\\s+Deployment\\s+web\\s+2\\s+${sa}\\s+none\\s+in-sync`));
  });
});

describe("podlogreader audit with a Role that names no pod", () => {
  interface Report {
    ok: boolean;
    entries: { serviceAccount: string; mode?: string; readable: string[] }[];
    findings: { kind: string; serviceAccount: string; permission: string; grantedBy: string[] }[];
  }

  test("passes a workload served correctly: its pods readable through the webhook, no finding", async () => {
    const r = await podlogreader(["audit", "-n", ns, "--output", "json"]);
    const report = JSON.parse(r.stdout) as Report;
    expect({ code: r.code, ok: report.ok, findings: report.findings }).toEqual({ code: 0, ok: true, findings: [] });
    expect(report.entries.find((e) => e.serviceAccount === sa)).toMatchObject({ mode: "none", readable: webPods });
  });

  test("a ServiceAccount given list pods in its namespace is an over-grant", async () => {
    const name = "list-pods";
    await c.admin.create(Roles, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }],
    });
    await c.admin.create(RoleBindings, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: sa, namespace: ns }],
    });
    try {
      const r = await eventually("the audit to see the binding", async () => {
        const out = await podlogreader(["audit", "-n", ns, "--output", "json"]);
        return out.code === 1 ? out : undefined;
      });
      const report = JSON.parse(r.stdout) as Report;
      expect(report.ok).toBe(false);
      expect(
        report.findings
          .filter((f) => f.kind === "pod-list")
          .map((f) => ({ sa: f.serviceAccount, permission: f.permission, grantedBy: f.grantedBy })),
      ).toEqual([
        { sa, permission: "list pods", grantedBy: [`RoleBinding ${ns}/${name} (Role ${name})`] },
        { sa, permission: "list pods -l podlogreader-affiliate=enable", grantedBy: [`RoleBinding ${ns}/${name} (Role ${name})`] },
      ]);
      expect(report.findings.filter((f) => f.kind !== "pod-list")).toEqual([]);
      const table = await podlogreader(["audit", "-n", ns]);
      expect(table.stdout).toContain(`OVER-GRANT   pod-list  ${ns}/${sa} may list pods in namespace ${ns}, beyond Deployment/web's pods`);
    } finally {
      await c.admin.delete(RoleBindings, ns, name);
      await c.admin.delete(Roles, ns, name);
    }
  });
});

// `podlogreader logs`, `status` and `audit` with --role-pod-names=none, on a kube-apiserver that
// calls podlogreader's webhook authorizer: the Role names no pod, so `logs` lists the workload's
// pods by its selector (which only the webhook allows) and reads nothing of another pod; `status`
// shows the mode; `audit` passes such a workload and finds a ServiceAccount allowed to list pods;
// stern, `kubectl logs job/RUN` and a reused pod name, as the ServiceAccount and as a user granted
// the Role, as in test/e2e/webhook-authorizer.test.ts (test/support/webhook-clients.ts).
import { describe, expect, test } from "bun:test";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { RoleBindings, Roles } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { parseLogsArgs, runLogs, type LogsOptions } from "../../src/commands/logs.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, tokenConnection } from "../support/cluster.ts";
import { scale, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import { lineOf, useWebhookScene } from "../support/webhook-scene.ts";
import { boundClientTests } from "../support/webhook-clients.ts";
import { withLogs } from "../support/pod-logs.ts";

const sa = managedName("Deployment", "web");

const scene = useWebhookScene("none-mode", { rolePodNames: "none" });

const canLog = (pod: string) =>
  serviceAccountCan(scene.c.admin, scene.ns, sa, { verb: "get", resource: "pods", subresource: "log", name: pod, namespace: scene.ns });

describe("podlogreader logs with a Role that names no pod", () => {
  test("the Role names no pod, and web's ServiceAccount may read web's pods but not other's: the webhook decides", async () => {
    const role = (await scene.c.admin.get(Roles, scene.ns, sa)) as { rules?: { resources?: string[]; resourceNames?: string[] }[] };
    expect((role.rules ?? []).filter((r) => r.resources?.some((x) => x.startsWith("pods")))).toEqual([]);
    expect(await canLog(scene.other)).toBe(false);
  });

  test("logs deploy/web prints web's pods' lines and nothing of another pod", async () => {
    // The simulated kubelet serves a pod's log file once it has picked it up.
    const r = await eventually("every web pod's line", async () => {
      const out = await podlogreader(["logs", "deploy/web", "-n", scene.ns], { kubeconfig: scene.webKubeconfig });
      return out.code !== 0 || scene.webPods.every((pod) => out.stdout.includes(lineOf(pod))) ? out : undefined;
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    for (const pod of scene.webPods) expect(r.stdout).toContain(`[pod/${pod}/app] ${lineOf(pod)}`);
    expect(r.stdout).not.toContain(lineOf(scene.other));
    expect(r.stdout.trim().split("\n")).toHaveLength(scene.webPods.length);
  });

  test("logs -f deploy/web follows a pod that web scales up to", async () => {
    const api = new KubeApi(new Transport(tokenConnection(scene.c, await serviceAccountToken(scene.ns, sa))));
    const seen = { stdout: "", stderr: "" };
    const stop = new AbortController();
    const code = runLogs(parseLogsArgs(["deploy/web", "-n", scene.ns, "-f"]) as LogsOptions, {
      stdout: { write: (s: string) => (seen.stdout += s), isTTY: false },
      stderr: { write: (s: string) => (seen.stderr += s) },
      env: {},
      signal: stop.signal,
      api,
    });
    try {
      for (const pod of scene.webPods) await eventually(`${pod}'s line`, async () => seen.stdout.includes(lineOf(pod)) || undefined);
      await scale(scene.ns, "web", 3);
      const now = await waitForPods(scene.ns, "web", 3);
      const [added] = now.filter((p) => !scene.webPods.includes(p)) as [string];
      await withLogs(scene.ns, [added], (p) => [lineOf(p)]);
      await eventually(`${added}'s line`, async () => seen.stdout.includes(`[pod/${added}/app] ${lineOf(added)}`) || undefined);
      expect(seen.stderr).toContain(`+ pod/${added}: now one of Deployment/web's pods; following it`);
      expect(seen.stdout).not.toContain(lineOf(scene.other));
    } finally {
      stop.abort();
      expect(await code).toBe(0);
    }
    await scale(scene.ns, "web", 2);
    scene.webPods = await waitForPods(scene.ns, "web", 2);
  });
});

describe("podlogreader status with a Role that names no pod", () => {
  test("shows the mode none, and the Role in sync", async () => {
    const r = await podlogreader(["status", "-n", scene.ns, "--output", "json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; pods: number; mode?: string; state: string }[];
    expect(rows.find((x) => x.name === "web")).toMatchObject({ pods: 2, mode: "none", state: "in-sync" });
    const table = await podlogreader(["status", "-n", scene.ns]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAMESPACE\s+KIND\s+NAME\s+PODS\s+ROLE\s+MODE\s+STATE\s+LAST-SYNCED$/);
    expect(table.stdout).toMatch(new RegExp(`${scene.ns}\\s+Deployment\\s+web\\s+2\\s+${sa}\\s+none\\s+in-sync`));
  });
});

describe("podlogreader audit with a Role that names no pod", () => {
  interface Report {
    ok: boolean;
    entries: { serviceAccount: string; mode?: string; readable: string[] }[];
    findings: { kind: string; serviceAccount: string; permission: string; grantedBy: string[] }[];
  }

  test("passes a workload served correctly: its pods readable through the webhook, no finding", async () => {
    const r = await podlogreader(["audit", "-n", scene.ns, "--output", "json"]);
    const report = JSON.parse(r.stdout) as Report;
    expect({ code: r.code, ok: report.ok, findings: report.findings }).toEqual({ code: 0, ok: true, findings: [] });
    expect(report.entries.find((e) => e.serviceAccount === sa)).toMatchObject({ mode: "none", readable: scene.webPods });
  });

  test("a ServiceAccount given list pods in its namespace is an over-grant", async () => {
    const name = "list-pods";
    await scene.c.admin.create(Roles, scene.ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }],
    });
    await scene.c.admin.create(RoleBindings, scene.ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: sa, namespace: scene.ns }],
    });
    try {
      const r = await eventually("the audit to see the binding", async () => {
        const out = await podlogreader(["audit", "-n", scene.ns, "--output", "json"]);
        return out.code === 1 ? out : undefined;
      });
      const report = JSON.parse(r.stdout) as Report;
      expect(report.ok).toBe(false);
      expect(
        report.findings
          .filter((f) => f.kind === "pod-list")
          .map((f) => ({ sa: f.serviceAccount, permission: f.permission, grantedBy: f.grantedBy })),
      ).toEqual([
        { sa, permission: "list pods", grantedBy: [`RoleBinding ${scene.ns}/${name} (Role ${name})`] },
        { sa, permission: "list pods -l podlogreader-affiliate=enable", grantedBy: [`RoleBinding ${scene.ns}/${name} (Role ${name})`] },
      ]);
      expect(report.findings.filter((f) => f.kind !== "pod-list")).toEqual([]);
      const table = await podlogreader(["audit", "-n", scene.ns]);
      expect(table.stdout).toContain(
        `OVER-GRANT   pod-list  ${scene.ns}/${sa} may list pods in namespace ${scene.ns}, beyond Deployment/web's pods`,
      );
    } finally {
      await scene.c.admin.delete(RoleBindings, scene.ns, name);
      await scene.c.admin.delete(Roles, scene.ns, name);
    }
  });
});

describe("kubectl and stern as the workload's ServiceAccount and as a user granted its Role, with a Role that names no pod", () => {
  boundClientTests(scene, "none");
});

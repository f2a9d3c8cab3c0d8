// The admin commands of the compiled binary against the real control plane: a scoped kubeconfig
// that the built kubectl uses, an audit through the authorizer, and the status table. The audit's
// own scenarios are in audit.test.ts, its chart identity in audit-rbac.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Events, RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { canReadLog } from "../support/access.ts";
import { eventually, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { kubectl, podlogreader } from "../support/process.ts";
import { roleBinding, serviceAccountSubject } from "../support/fixtures.ts";

let c: TestCluster;
let ns: string;
let dir: string;
let controller: RunningController;
let webPods: string[];
let otherPod: string;

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("admin");
  dir = mkdtempSync(join(tmpdir(), "podlogreader-admin-"));
  // A ServiceAccount of podlogreader's name that it did not create, before its workload opts in.
  await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "podlogreader-borrowed" } });
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 2 });
  await createDeployment(ns, "other", { replicas: 1, optIn: false });
  await createDeployment(ns, "borrowed", { replicas: 1 });
  webPods = await waitForPods(ns, "web", 2);
  [otherPod] = (await waitForPods(ns, "other", 1)) as [string];
  await expectReadable(ns, "podlogreader-web", webPods);
  // podlogreader never binds a ServiceAccount it did not create: it says so, and that one reads nothing.
  const [borrowedPod] = await waitForPods(ns, "borrowed", 1);
  await eventually("a NameConflict Warning Event on borrowed", async () => {
    const { items } = await c.admin.list(Events, { namespace: ns });
    return (
      (items as { type?: string; reason?: string; involvedObject?: { name?: string } }[]).some(
        (e) => e.type === "Warning" && e.reason === "NameConflict" && e.involvedObject?.name === "borrowed",
      ) || undefined
    );
  });
  expect(await canReadLog(c.admin, ns, "podlogreader-borrowed", borrowedPod!)).toBe(false);
});
afterAll(async () => {
  await controller.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("podlogreader kubeconfig", () => {
  test("writes a 0600 kubeconfig that kubectl uses to read the workload's pods, and only those", async () => {
    const file = join(dir, "web.kubeconfig");
    const r = await podlogreader(["kubeconfig", "-n", ns, "deploy/web", "--duration", "15m", "--output-file", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`ServiceAccount ${ns}/podlogreader-web`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    for (const pod of webPods) {
      const can = await kubectl(["auth", "can-i", "get", `pods/${pod}`, "--subresource=log"], { kubeconfig: file });
      expect(can.stdout.trim()).toBe("yes");
      // No node runs the pod, so the log is empty; what matters is that it is not Forbidden.
      const logs = await kubectl(["logs", pod], { kubeconfig: file });
      expect(logs.stderr).not.toContain("Forbidden");
      expect(logs.code).toBe(0);
    }
    const refused = await kubectl(["logs", otherPod], { kubeconfig: file });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Forbidden");
    expect((await kubectl(["get", "secrets"], { kubeconfig: file })).stderr).toContain("Forbidden");
  });

  test("its token expires after the duration asked for", async () => {
    const r = await podlogreader(["kubeconfig", "-n", ns, "deploy/web", "--duration", "20m"]);
    expect(r.code).toBe(0);
    const token = r.stdout.match(/token: (\S+)/)![1]!;
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number; iat: number; sub: string };
    expect(claims.exp - claims.iat).toBe(20 * 60);
    expect(claims.sub).toBe(`system:serviceaccount:${ns}:podlogreader-web`);
    expect(r.stdout).toContain(`namespace: ${ns}`);
  });

  test.each([
    [["deploy/other"], "has not opted in"],
    [["deploy/missing"], "does not exist"],
    [["deploy/borrowed"], "was not created by podlogreader"],
    [["deploy/web", "--duration", "1m"], "refused a token"],
  ])("refuses %p with a clear error and exit code 1", async (args, message) => {
    const r = await podlogreader(["kubeconfig", "-n", ns, ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });

  test.each([
    [["kubeconfig", "-n", "x"], "needs a workload"],
    [["kubeconfig", "-n", "x", "pod/web"], "is not KIND/NAME"],
    [["kubeconfig", "-n", "x", "deploy/web", "--duration", "soon"], "--duration"],
    [["audit", "--output", "yaml"], "--output must be table or json"],
    [["status", "--bogus"], "unknown flag --bogus"],
  ])("bad flags %p exit 2", async (args, message) => {
    const r = await podlogreader(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe("podlogreader audit", () => {
  test("passes when every ServiceAccount reads exactly its workload's pods", async () => {
    const r = await podlogreader(["audit", "-n", ns, "--output", "json"]);
    const report = JSON.parse(r.stdout) as { ok: boolean; entries: { serviceAccount: string; readable: string[]; overGrants: string[] }[] };
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
    const web = report.entries.find((e) => e.serviceAccount === "podlogreader-web")!;
    expect(web.readable).toEqual(webPods);
    const table = await podlogreader(["audit", "-n", ns]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/podlogreader-web\s+2\s+2\s+0\s+0\s+ok/);
  });

  test("fails on an over-grant made by a RoleBinding someone else added", async () => {
    await c.admin.create(Roles, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "all-logs" },
      rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }],
    });
    await c.admin.create(RoleBindings, ns, roleBinding("too-generous", "all-logs", [serviceAccountSubject(ns, "podlogreader-web")]));
    const r = await podlogreader(["audit", "-n", ns, "--output", "json"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      entries: { serviceAccount: string; overGrants: string[]; namespaceWide: boolean }[];
    };
    expect(report.ok).toBe(false);
    const web = report.entries.find((e) => e.serviceAccount === "podlogreader-web")!;
    expect(web.overGrants).toContain(otherPod);
    expect(web.namespaceWide).toBe(true);
    const table = await podlogreader(["audit", "-n", ns]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(
      new RegExp(
        `^OVER-GRANT +namespace-wide +${ns}/podlogreader-web can read the logs of every pod in ${ns}, granted by RoleBinding ` +
          `${ns}/too-generous \\(Role all-logs\\)$`,
        "m",
      ),
    );
    await c.admin.delete(RoleBindings, ns, "too-generous");
  });
});

describe("podlogreader status", () => {
  test("lists the opted-in workloads, their pods and Roles, in sync", async () => {
    const r = await podlogreader(["status", "-n", ns, "--output", "json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { kind: string; name: string; pods: number; role: string; state: string; lastSynced?: string }[];
    expect(rows.map((x) => x.name)).toEqual(["borrowed", "web"]);
    const web = rows.find((x) => x.name === "web")!;
    expect(web).toMatchObject({ kind: "Deployment", pods: 2, role: "podlogreader-web", mode: "names", state: "in-sync" });
    expect(Date.parse(web.lastSynced!)).toBeGreaterThan(0);
    const table = await podlogreader(["status", "-n", ns]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAMESPACE\s+KIND\s+NAME\s+PODS\s+ROLE\s+MODE\s+STATE\s+LAST-SYNCED$/);
    expect(table.stdout).toMatch(new RegExp(`${ns}\\s+Deployment\\s+web\\s+2\\s+podlogreader-web\\s+names\\s+in-sync`));
  });
});

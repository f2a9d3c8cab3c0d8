// The chart's audit identity is sufficient and minimal, as the apiserver enforces it: its
// ServiceAccount and RBAC are applied from the rendered chart, and the compiled binary audits as a
// real token of that ServiceAccount.
//   sufficient: a healthy namespace passes, and a binding planted in another namespace is found;
//   minimal:    with any single permission (one verb on one resource) taken out, the audit fails,
//               because the apiserver refused it something.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Role } from "@kubernetes/client-node";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { RoleBindings, Roles, type ResourceType } from "../../src/kube/resources.ts";
import { createRbac, permissions, RBAC_TYPES, render } from "../support/chart.ts";
import { serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { BINARY } from "../support/process.ts";
import { roleBinding, serviceAccountSubject } from "../support/fixtures.ts";

const run = process.pid.toString(36);

let c: TestCluster;
let system: string;
let ns: string;
let controller: RunningController;
const clusterScoped: [ResourceType, string][] = [];

beforeAll(async () => {
  c = await testCluster();
  system = await useNamespace("audit-system");
  ns = await useNamespace("audit-rbac");
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 1 });
  await createDeployment(ns, "other", { replicas: 1, optIn: false });
  await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 1));
  await waitForPods(ns, "other", 1);
});
afterAll(async () => {
  await controller.stop();
  for (const [rt, name] of clusterScoped) await c.admin.delete(rt, undefined, name).catch(() => {});
});

const auditObjects = (release: string) =>
  // The ServiceAccount is <fullname>-audit, its RBAC objects <fullname>:audit-...
  render(release, system, { audit: { enabled: true } }).filter(
    (m) =>
      /^[-:]audit/.test(m.metadata.name.slice(`${release}-podlogreader`.length)) &&
      m.metadata.name.startsWith(release) &&
      m.kind in RBAC_TYPES,
  );

/** Applies the release's audit identity (with one permission of one role taken out) and returns a kubeconfig of its token. */
async function install(release: string, removed?: { role: string; permission: string }): Promise<string> {
  await createRbac(c.admin, system, auditObjects(release), clusterScoped, removed);
  const token = await serviceAccountToken(system, `${release}-podlogreader-audit`);
  const kubeconfig = join(c.dir, `${release}-${process.pid}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token }), { mode: 0o600 });
  return kubeconfig;
}

async function audit(kubeconfig: string) {
  const proc = Bun.spawn([BINARY, "audit", "-n", ns, "--output", "json"], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig },
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

describe("the chart's audit identity", () => {
  const rolePermissions: { role: string; permission: string }[] = [];

  test("is sufficient: a healthy namespace passes, and a RoleBinding in another namespace is found", async () => {
    const release = `af${run}`;
    const kubeconfig = await install(release);
    const healthy = await audit(kubeconfig);
    expect(healthy.stderr).toBe("");
    expect(healthy.code).toBe(0);
    const report = JSON.parse(healthy.stdout) as { ok: boolean; entries: unknown[] };
    expect(report.ok).toBe(true);
    expect(report.entries.length).toBeGreaterThan(0);

    const far = await useNamespace("audit-rbac-far");
    await c.admin.create(Roles, far, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "logs" },
      rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }],
    });
    await c.admin.create(RoleBindings, far, roleBinding("reach", "logs", [serviceAccountSubject(ns, "podlogreader-web")]));
    const found = await audit(kubeconfig);
    await c.admin.delete(RoleBindings, far, "reach");
    expect(found.stderr).toBe("");
    expect(found.code).toBe(1);
    expect((JSON.parse(found.stdout) as { findings: { kind: string; scope: string }[] }).findings).toContainEqual(
      expect.objectContaining({ kind: "cross-namespace", scope: far }),
    );

    for (const m of auditObjects(release).filter((m) => m.kind === "ClusterRole" || m.kind === "Role")) {
      for (const permission of permissions((m as unknown as V1Role).rules ?? []))
        rolePermissions.push({ role: m.metadata.name.slice(release.length), permission });
    }
    expect(rolePermissions.length).toBeGreaterThan(10);
  });

  test("is minimal: without any single permission, the audit fails on a refusal", async () => {
    expect(rolePermissions.length).toBeGreaterThan(0);
    const unneeded: string[] = [];
    for (const [i, p] of rolePermissions.entries()) {
      const release = `am${i}x${run}`;
      const kubeconfig = await install(release, { role: `${release}${p.role}`, permission: p.permission });
      const r = await audit(kubeconfig);
      if (r.code === 0) unneeded.push(`${p.role} ${p.permission}: the audit passed without it`);
      else if (!/\b403\b/.test(r.stderr))
        unneeded.push(`${p.role} ${p.permission}: the audit failed, but nothing was refused: ${r.stderr}`);
    }
    expect(unneeded).toEqual([]);
  }, 300_000);
});

// `podlogreader audit`, the compiled binary, against the real control plane: each way a managed
// ServiceAccount can come to reach more than its workload's logs is planted, and the audit must
// name it with its kind and the binding that grants it, and exit 1. A healthy cluster exits 0.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClusterRoleBindings, ClusterRoles, RoleBindings, Roles, type ResourceType } from "../../src/kube/resources.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import type { AuditReport as Report } from "../../src/admin/audit.ts";

const RBAC = "rbac.authorization.k8s.io";
const run = process.pid.toString(36);

let c: TestCluster;
let ns: string;
let far: string;
let controller: RunningController;
let webPods: string[];
let otherPod: string;
const cleanups: (() => Promise<unknown>)[] = [];

async function audit(): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await podlogreader(["audit", "-n", ns, "--output", "json"]);
  if (!r.stdout) throw new Error(`audit printed nothing (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const overGrants = (r: Report) => r.findings.filter((f) => f.overGrant && f.serviceAccount === "podlogreader-web");

/** Creates an object as admin, to be deleted after the test. */
async function plant(
  rt: ResourceType,
  namespace: string | undefined,
  body: { metadata: { name: string } } & Record<string, unknown>,
): Promise<void> {
  await c.admin.create(rt, namespace, { apiVersion: `${RBAC}/v1`, kind: rt.kind, ...body });
  cleanups.push(() => c.admin.delete(rt, namespace, body.metadata.name));
}

const rule = (resources: string[], verbs: string[], resourceNames?: string[]) => ({
  apiGroups: [""],
  resources,
  verbs,
  ...(resourceNames ? { resourceNames } : {}),
});
const webSubject = () => ({ kind: "ServiceAccount", name: "podlogreader-web", namespace: ns });
const roleRef = (kind: "Role" | "ClusterRole", name: string) => ({ apiGroup: RBAC, kind, name });

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("audit");
  far = await useNamespace("audit-far");
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 2 });
  await createDeployment(ns, "other", { replicas: 1, optIn: false });
  await createDeployment(far, "far", { replicas: 1, optIn: false });
  webPods = await waitForPods(ns, "web", 2);
  [otherPod] = (await waitForPods(ns, "other", 1)) as [string];
  await waitForPods(far, "far", 1);
  await expectReadable(ns, "podlogreader-web", webPods);
});

afterAll(async () => {
  await controller.stop();
});

async function undo(): Promise<void> {
  for (const f of cleanups.splice(0).reverse()) await f();
}

describe("podlogreader audit", () => {
  test("a healthy cluster: exit 0, the audit's own membership agrees with the Role, no over-grant", async () => {
    const { code, report } = await audit();
    expect(report.findings.filter((f) => f.overGrant)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    const web = report.entries.find((e) => e.serviceAccount === "podlogreader-web")!;
    expect(web.pods).toEqual(webPods);
    expect(web.roleNames).toEqual(webPods);
  });

  test("a RoleBinding in another namespace: cross-namespace", async () => {
    await plant(Roles, far, { metadata: { name: "far-logs" }, rules: [rule(["pods/log"], ["get"])] });
    await plant(RoleBindings, far, { metadata: { name: "reach-far" }, roleRef: roleRef("Role", "far-logs"), subjects: [webSubject()] });
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(overGrants(report)).toContainEqual(
      expect.objectContaining({ kind: "cross-namespace", scope: far, grantedBy: [`RoleBinding ${far}/reach-far (Role far-logs)`] }),
    );
    await undo();
  });

  test("a ClusterRoleBinding: cluster-wide", async () => {
    await plant(ClusterRoles, undefined, { metadata: { name: `audit-all-logs-${run}` }, rules: [rule(["pods/log"], ["get"])] });
    await plant(ClusterRoleBindings, undefined, {
      metadata: { name: `audit-all-logs-${run}` },
      roleRef: roleRef("ClusterRole", `audit-all-logs-${run}`),
      subjects: [webSubject()],
    });
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(overGrants(report)).toContainEqual(
      expect.objectContaining({
        kind: "cluster-wide",
        scope: "",
        grantedBy: [`ClusterRoleBinding audit-all-logs-${run} (ClusterRole audit-all-logs-${run})`],
      }),
    );
    await undo();
  });

  test("pods/exec on another pod: other-identity, and kubeconfig refuses to hand out the token", async () => {
    await plant(Roles, ns, { metadata: { name: "exec-other" }, rules: [rule(["pods/exec"], ["create"], [otherPod])] });
    await plant(RoleBindings, ns, { metadata: { name: "exec-other" }, roleRef: roleRef("Role", "exec-other"), subjects: [webSubject()] });
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(overGrants(report)).toEqual([
      expect.objectContaining({
        kind: "other-identity",
        permission: "create pods/exec",
        scope: ns,
        resourceName: otherPod,
        grantedBy: [`RoleBinding ${ns}/exec-other (Role exec-other)`],
      }),
    ]);
    const refused = await podlogreader(["kubeconfig", "-n", ns, "deploy/web"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("refusing to hand out");
    expect(refused.stderr).toContain(`other-identity: ${ns}/podlogreader-web may create pods/exec on ${otherPod}`);
    await undo();
  });

  test("pods/exec on the workload's own pod: other-identity too, since it runs as the workload's own ServiceAccount", async () => {
    const own = webPods[0]!;
    await plant(Roles, ns, { metadata: { name: "exec-own" }, rules: [rule(["pods/exec"], ["create"], [own])] });
    await plant(RoleBindings, ns, { metadata: { name: "exec-own" }, roleRef: roleRef("Role", "exec-own"), subjects: [webSubject()] });
    await eventually("the authorizer to grant exec", async () =>
      (await serviceAccountCan(c.admin, ns, "podlogreader-web", { verb: "create", resource: "pods", subresource: "exec", name: own }))
        ? true
        : undefined,
    );
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(overGrants(report)).toContainEqual(
      expect.objectContaining({
        kind: "other-identity",
        permission: "create pods/exec",
        scope: ns,
        resourceName: own,
        grantedBy: [`RoleBinding ${ns}/exec-own (Role exec-own)`],
      }),
    );
    await undo();
  });

  test("nodes/proxy: other-path", async () => {
    await plant(ClusterRoles, undefined, { metadata: { name: `audit-proxy-${run}` }, rules: [rule(["nodes/proxy"], ["get"])] });
    await plant(ClusterRoleBindings, undefined, {
      metadata: { name: `audit-proxy-${run}` },
      roleRef: roleRef("ClusterRole", `audit-proxy-${run}`),
      subjects: [webSubject()],
    });
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(overGrants(report)).toContainEqual(
      expect.objectContaining({
        kind: "other-path",
        permission: "get nodes/proxy",
        scope: "",
        grantedBy: [`ClusterRoleBinding audit-proxy-${run} (ClusterRole audit-proxy-${run})`],
      }),
    );
    await undo();
  });

  test("a group subject that covers the ServiceAccount: namespace-wide", async () => {
    await plant(Roles, ns, { metadata: { name: "all-logs" }, rules: [rule(["pods/log"], ["get"])] });
    await plant(RoleBindings, ns, {
      metadata: { name: "everyone-here" },
      roleRef: roleRef("Role", "all-logs"),
      subjects: [{ kind: "Group", apiGroup: RBAC, name: `system:serviceaccounts:${ns}` }],
    });
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(overGrants(report)).toEqual([
      expect.objectContaining({ kind: "namespace-wide", scope: ns, grantedBy: [`RoleBinding ${ns}/everyone-here (Role all-logs)`] }),
    ]);
    await undo();
  });

  test(
    "names changed in the managed Role while the controller is " + "stopped: stale-name and foreign-member fail, missing-name is reported",
    async () => {
      await controller.stop();
      try {
        const role = (await c.admin.get(Roles, ns, "podlogreader-web")) as { rules: { resources?: string[]; resourceNames?: string[] }[] };
        const rules = role.rules.map((r) =>
          r.resources?.includes("pods/log")
            ? { ...r, resourceNames: [...r.resourceNames!.filter((n) => n !== webPods[0]), "web-ghost", otherPod] }
            : r,
        );
        await c.admin.mergePatch(Roles, ns, "podlogreader-web", { rules }, { fieldManager: "kubectl-edit" });
        const { code, report } = await audit();
        expect(code).toBe(1);
        const found = overGrants(report).map((f) => [f.kind, f.resourceName]);
        expect(found).toContainEqual(["stale-name", "web-ghost"]);
        expect(found).toContainEqual(["foreign-member", otherPod]);
        expect(report.findings).toContainEqual(
          expect.objectContaining({ kind: "missing-name", overGrant: false, serviceAccount: "podlogreader-web", resourceName: webPods[0] }),
        );
      } finally {
        controller = await startController([ns]);
      }
      // The controller takes the names out again, and the audit is clean.
      await eventually("a clean audit after the controller's repair", async () => ((await audit()).code === 0 ? true : undefined), 60_000);
    },
  );
});

afterAll(async () => {
  await undo();
  // Cluster-scoped objects outlive the namespaces; a killed run's leftovers carry its pid.
  for (const name of [`audit-all-logs-${run}`, `audit-proxy-${run}`]) {
    for (const rt of [ClusterRoleBindings, ClusterRoles]) await c.admin.delete(rt, undefined, name).catch(() => {});
  }
});

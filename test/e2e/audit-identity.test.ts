// A managed ServiceAccount that can act as another identity reaches more than its workload's logs:
// whoever can create a pod (or a workload that makes pods) can run it as any ServiceAccount of the
// namespace and mount the node's /var/log/pods; whoever can change a pod can run code in it. The
// compiled binary, against the real control plane: `podlogreader audit` names each such
// permission with the binding that grants it and exits 1, and `podlogreader kubeconfig` refuses
// the account. An account with only what podlogreader grants passes both.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KubeApi } from "../../src/kube/api.ts";
import { Pods, RoleBindings, Roles } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, tokenConnection, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import type { AuditReport as Report } from "../../src/admin/audit.ts";
import { roleBinding, serviceAccountSubject } from "../support/fixtures.ts";

const RBAC = "rbac.authorization.k8s.io";
const SA = "podlogreader-web";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
/** One permission as the authorizer is asked about it, and as the report names it. */
interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  text: string;
}

let c: TestCluster;
let ns: string;
let controller: RunningController;

async function audit(): Promise<{ code: number; report: Report }> {
  const r = await podlogreader(["audit", "-n", ns, "--output", "json"]);
  if (!r.stdout) throw new Error(`audit printed nothing (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

const can = (p: Permission) =>
  serviceAccountCan(c.admin, ns, SA, {
    verb: p.verb,
    group: p.group,
    resource: p.resource,
    ...(p.subresource ? { subresource: p.subresource } : {}),
    ...(p.name ? { name: p.name } : {}),
  });

/** Binds a Role `deployer` with these rules to the web workload's ServiceAccount, once the authorizer grants `p`. */
async function bindDeployer(rules: Rule[], p: Permission): Promise<void> {
  await c.admin.create(Roles, ns, { apiVersion: `${RBAC}/v1`, kind: "Role", metadata: { name: "deployer" }, rules });
  await c.admin.create(RoleBindings, ns, roleBinding("deployer", "deployer", [serviceAccountSubject(ns, SA)]));
  // The binding reaches the authorizer's cache after etcd; asking before would prove nothing.
  await eventually(`the authorizer to grant ${p.text}`, async () => ((await can(p)) ? true : undefined));
}

/** Removes the deployer binding and Role, and waits until the authorizer no longer grants `p`. */
async function unbindDeployer(p: Permission): Promise<void> {
  await c.admin.delete(RoleBindings, ns, "deployer").catch(() => {});
  await c.admin.delete(Roles, ns, "deployer").catch(() => {});
  await eventually(`the authorizer to drop ${p.text}`, async () => ((await can(p)) ? undefined : true));
}

const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): Rule => ({
  apiGroups,
  resources,
  verbs,
  ...(resourceNames ? { resourceNames } : {}),
});
const WRITE = ["create", "update", "patch"];

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("audit-identity");
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 1 });
  await createDeployment(ns, "payments", { replicas: 1 });
  await expectReadable(ns, SA, await waitForPods(ns, "web", 1));
  await expectReadable(ns, "podlogreader-payments", await waitForPods(ns, "payments", 1));
});

afterAll(async () => {
  await controller.stop();
});

describe("acting as another identity", () => {
  test("control: with only what podlogreader grants, the audit passes with no finding and kubeconfig hands out a token", async () => {
    const { code, report } = await audit();
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    const issued = await podlogreader(["kubeconfig", "-n", ns, "deploy/web"]);
    expect(issued.stderr).toBe("");
    expect(issued.code).toBe(0);
    expect(issued.stdout).toContain(`user: ${SA}`);
    expect(issued.stdout).toMatch(/token: \S+/);
  });

  test(
    "the threat is real: a deployer Role without pods/log lets its token create a pod that runs as another ServiceAccount and mounts " +
      "/var/log/pods",
    async () => {
      const createPods: Permission = { verb: "create", group: "", resource: "pods", text: "create pods" };
      await bindDeployer(
        [rule([""], ["pods", "pods/ephemeralcontainers"], WRITE), rule(["apps"], ["deployments"], WRITE), rule(["batch"], ["jobs"], WRITE)],
        createPods,
      );
      try {
        expect(await can({ verb: "get", group: "", resource: "pods", subresource: "log", text: "get pods/log" })).toBe(false);
        const web = new KubeApi(new Transport(tokenConnection(c, await serviceAccountToken(ns, SA))));
        const pod = (await web.create(Pods, ns, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "borrowed-identity" },
          spec: {
            serviceAccountName: "podlogreader-payments",
            containers: [{ name: "c", image: "busybox", volumeMounts: [{ name: "logs", mountPath: "/logs" }] }],
            volumes: [{ name: "logs", hostPath: { path: "/var/log/pods" } }],
          },
        })) as { spec: { serviceAccountName: string } };
        expect(pod.spec.serviceAccountName).toBe("podlogreader-payments");
        await c.admin.delete(Pods, ns, "borrowed-identity");

        const { code, report } = await audit();
        expect(code).toBe(1);
        const mine = report.findings.filter((f) => f.serviceAccount === SA);
        expect(mine.map((f) => f.permission).sort()).toEqual([
          "create deployments.apps",
          "create jobs.batch",
          "create pods",
          "patch deployments.apps",
          "patch jobs.batch",
          "patch pods",
          "patch pods/ephemeralcontainers",
          "update deployments.apps",
          "update jobs.batch",
          "update pods",
          "update pods/ephemeralcontainers",
        ]);
        for (const f of mine)
          expect(f).toMatchObject({
            kind: "other-identity",
            overGrant: true,
            scope: ns,
            grantedBy: [`RoleBinding ${ns}/deployer (Role deployer)`],
          });
        // The other workload's account is untouched by a binding that does not reach it.
        expect(report.findings.filter((f) => f.serviceAccount !== SA)).toEqual([]);
      } finally {
        await unbindDeployer(createPods);
      }
    },
  );

  const cases: [string, Rule[], Permission][] = [
    ["can create pods", [rule([""], ["pods"], ["create"])], { verb: "create", group: "", resource: "pods", text: "create pods" }],
    [
      "can create Deployments",
      [rule(["apps"], ["deployments"], ["create"])],
      { verb: "create", group: "apps", resource: "deployments", text: "create deployments.apps" },
    ],
    [
      "can create Jobs",
      [rule(["batch"], ["jobs"], ["create"])],
      { verb: "create", group: "batch", resource: "jobs", text: "create jobs.batch" },
    ],
    ["can patch pods", [rule([""], ["pods"], ["patch"])], { verb: "patch", group: "", resource: "pods", text: "patch pods" }],
    [
      "can add ephemeral containers",
      [rule([""], ["pods/ephemeralcontainers"], ["patch"])],
      { verb: "patch", group: "", resource: "pods", subresource: "ephemeralcontainers", text: "patch pods/ephemeralcontainers" },
    ],
    [
      "holds every verb on every apps resource (a wildcard)",
      [rule(["apps"], ["*"], ["*"])],
      { verb: "create", group: "apps", resource: "statefulsets", text: "create statefulsets.apps" },
    ],
    [
      "can update one CronJob by name",
      [rule(["batch"], ["cronjobs"], ["update"], ["nightly"])],
      { verb: "update", group: "batch", resource: "cronjobs", name: "nightly", text: "update cronjobs.batch" },
    ],
    [
      "may impersonate one ServiceAccount (constrained impersonation)",
      [rule(["authentication.k8s.io"], ["serviceaccounts"], ["impersonate:serviceaccount"], ["podlogreader-payments"])],
      {
        verb: "impersonate:serviceaccount",
        group: "authentication.k8s.io",
        resource: "serviceaccounts",
        name: "podlogreader-payments",
        text: "impersonate:serviceaccount serviceaccounts.authentication.k8s.io",
      },
    ],
  ];

  test.each(cases)("an account that %s: an other-identity over-grant naming the binding, and no kubeconfig", async (_, rules, p) => {
    await bindDeployer(rules, p);
    try {
      const { code, report } = await audit();
      expect(code).toBe(1);
      expect(report.ok).toBe(false);
      const mine = report.findings.filter((f) => f.serviceAccount === SA);
      expect(mine).toContainEqual(
        expect.objectContaining({
          kind: "other-identity",
          overGrant: true,
          permission: p.text,
          scope: ns,
          ...(p.name ? { resourceName: p.name } : {}),
          grantedBy: [`RoleBinding ${ns}/deployer (Role deployer)`],
        }),
      );
      for (const f of mine) expect(f).toMatchObject({ kind: "other-identity", grantedBy: [`RoleBinding ${ns}/deployer (Role deployer)`] });

      const refused = await podlogreader(["kubeconfig", "-n", ns, "deploy/web"]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(`refusing to hand out ServiceAccount ${ns}/${SA}'s token`);
      const on = p.name ? ` on ${p.name}` : "";
      expect(refused.stderr).toContain(
        `other-identity: ${ns}/${SA} may ${p.text}${on} in namespace ${ns}, granted by RoleBinding ${ns}/deployer (Role deployer): ` +
          `it can act as another identity`,
      );
    } finally {
      await unbindDeployer(p);
    }
  });

  test("control again: with the deployer binding gone, the audit passes and kubeconfig hands out a token", async () => {
    const { code, report } = await audit();
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    expect((await podlogreader(["kubeconfig", "-n", ns, "deploy/web"])).code).toBe(0);
  });
});

// `podlogreader audit`, the compiled binary, on bindings to people, against the real control plane
// with no controller running (it would delete an expired grant within seconds): a grant past its
// expiry, a binding made by hand to a managed Role, and a grant of a ClusterRole are each named with
// their kind and exit 1; a fresh grant is not. That each is real access is asked of the authorizer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RoleBindings, Roles } from "../../src/kube/resources.ts";
import { eventually, testCluster, useNamespace, TEST_FIELD_MANAGER, type TestCluster } from "../support/cluster.ts";
import { startController } from "../support/controller.ts";
import { userReadable } from "../support/users.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import type { AuditReport as Report } from "../../src/admin/audit.ts";

const RBAC = "rbac.authorization.k8s.io";

let c: TestCluster;
let ns: string;
let webPods: string[];
const cleanups: (() => Promise<unknown>)[] = [];

async function audit(): Promise<{ code: number; report: Report }> {
  const r = await podlogreader(["audit", "-n", ns, "--output", "json"]);
  if (!r.stdout) throw new Error(`audit printed nothing (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

const GRANT_KINDS = new Set(["expired-grant", "misdirected-grant", "unissued-binding"]);
const aboutPeople = (r: Report) =>
  r.findings.filter((f) => GRANT_KINDS.has(f.kind)).map((f) => ({ kind: f.kind, subjects: f.subjects, overGrant: f.overGrant }));

/** `podlogreader grant`, to be revoked after the test; returns the binding's name. */
async function grant(to: string): Promise<string> {
  const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", to, "--for", "1h", "--reason", "audit test", "-o", "json"]);
  // This cluster runs no grant policy, so the command may say the record is advisory; nothing else.
  expect(r.stderr).toMatch(
    /^(the cluster does not enforce grant records \(no ValidatingAdmissionPolicy [^)]*\): expiry and granted-by are advisory\n)?$/,
  );
  expect(r.code).toBe(0);
  const name = (JSON.parse(r.stdout) as { binding: string }).binding;
  cleanups.push(() => c.admin.delete(RoleBindings, ns, name));
  return name;
}

async function plantBinding(body: {
  metadata: { name: string } & Record<string, unknown>;
  roleRef: { kind: string; name: string };
  subjects: unknown[];
}): Promise<void> {
  await c.admin.create(RoleBindings, ns, {
    apiVersion: `${RBAC}/v1`,
    kind: "RoleBinding",
    ...body,
    roleRef: { apiGroup: RBAC, ...body.roleRef },
  } as never);
  cleanups.push(() => c.admin.delete(RoleBindings, ns, body.metadata.name));
}

const user = (name: string) => ({ kind: "User", apiGroup: RBAC, name });
const person = (name: string) => ({ name, groups: [] });

/**
 * Waits until the authorizer (whose RBAC cache lags writes) lets `name` read exactly `expected` among web's pods and one name no pod has.
 */
const readsEventually = (name: string, expected: (readable: string[]) => boolean) =>
  eventually(
    `${name}'s access to take effect`,
    async () => (expected(await userReadable(person(name), ns, webPods)) ? true : undefined),
    10_000,
    200,
  );
const exactly = (pods: string[]) => (readable: string[]) => JSON.stringify(readable) === JSON.stringify(pods);

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("audit-grants");
  const controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 2 });
  webPods = await waitForPods(ns, "web", 2);
  await expectReadable(ns, "podlogreader-web", webPods);
  // The controller ends expired grants; stopped, nothing does.
  await controller.stop();
});

afterAll(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function undo(): Promise<void> {
  for (const f of cleanups.splice(0).reverse()) await f();
}

describe("podlogreader audit, on bindings to people", () => {
  test("of two grants, the one past its expiry is an over-grant (exit 1) and the fresh one is not", async () => {
    await grant("user:alice");
    const stale = await grant("user:bob");
    await c.admin.mergePatch(
      RoleBindings,
      ns,
      stale,
      { metadata: { annotations: { "podlogreader.dev/expires": "2026-01-01T00:00:00Z" } } },
      { fieldManager: TEST_FIELD_MANAGER },
    );
    // RBAC knows nothing of the annotation: both still read.
    await readsEventually("alice", exactly(webPods));
    await readsEventually("bob", exactly(webPods));

    const { code, report } = await audit();
    expect(aboutPeople(report)).toEqual([{ kind: "expired-grant", subjects: ["user:bob"], overGrant: true }]);
    const f = report.findings.find((x) => x.kind === "expired-grant")!;
    expect([f.serviceAccount, f.workload, f.detail]).toEqual(["podlogreader-web", "Deployment/web", "expired at 2026-01-01T00:00:00Z"]);
    expect(f.grantedBy).toEqual([`RoleBinding ${ns}/${stale} (Role podlogreader-web)`]);
    expect(report.ok).toBe(false);
    expect(code).toBe(1);

    await undo();
  }, 60_000);

  test("a binding made by hand to a managed Role is named as not issued by podlogreader, exit 1; the table says so too", async () => {
    await plantBinding({
      metadata: { name: "carol-debugs-web" },
      roleRef: { kind: "Role", name: "podlogreader-web" },
      subjects: [user("carol")],
    });
    await readsEventually("carol", exactly(webPods));

    const { code, report } = await audit();
    expect(aboutPeople(report)).toEqual([{ kind: "unissued-binding", subjects: ["user:carol"], overGrant: true }]);
    expect(code).toBe(1);
    const table = await podlogreader(["audit", "-n", ns]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain(
      `OVER-GRANT   unissued-binding  RoleBinding ${ns}/carol-debugs-web (Role podlogreader-web), not issued by podlogreader, lets ` +
        `user:carol read Deployment/web's pod logs, with no expiry`,
    );

    await undo();
  }, 60_000);

  test("a binding with the grant marks that binds a ClusterRole is a misdirected grant, exit 1", async () => {
    const role = (await c.admin.get(Roles, ns, "podlogreader-web")) as { metadata: { uid: string } };
    await plantBinding({
      metadata: {
        name: "podlogreader-web:grant-view",
        labels: { "podlogreader.dev/grant": "true" },
        annotations: { "podlogreader.dev/workload": "Deployment/web", "podlogreader.dev/expires": "2099-01-01T00:00:00Z" },
        ownerReferences: [{ apiVersion: `${RBAC}/v1`, kind: "Role", name: "podlogreader-web", uid: role.metadata.uid }],
      },
      roleRef: { kind: "ClusterRole", name: "view" },
      subjects: [user("dave")],
    });
    // `view` reads the logs of every pod of the namespace, present and future, and much else.
    await readsEventually("dave", (readable) => readable.length === webPods.length + 1);

    const { code, report } = await audit();
    expect(aboutPeople(report)).toEqual([{ kind: "misdirected-grant", subjects: ["user:dave"], overGrant: true }]);
    expect(report.findings.find((f) => f.kind === "misdirected-grant")!.detail).toBe(
      "binds ClusterRole view, not a Role podlogreader manages",
    );
    expect(code).toBe(1);

    await undo();
  }, 60_000);
});

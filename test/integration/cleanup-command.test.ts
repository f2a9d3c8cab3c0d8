// `podlogreader cleanup` as the compiled binary against the real control plane, after the compiled
// controller (leader-elected, --create-sa-and-rolebinding) made objects for workloads in two
// namespaces, next to look-alikes that someone else made. It runs as a ServiceAccount with a real
// token and only the RBAC the chart's uninstall hook grants (HOOK_CLUSTER_RULES as a ClusterRole, or
// as a Role in each cleaned namespace; HOOK_LEASE_RULES): that RBAC is enough, and without `delete
// roles` the command fails and names that permission. `get` on the three kinds is used only when
// an object changed between list and delete (test/unit/admin/cleanup.test.ts).
// Foreign objects are compared by resourceVersion: untouched, not just present.
//
// `cleanup -A` removes podlogreader's objects in every namespace of the test cluster; suites run
// one after another, and none relies on its managed objects after it finished.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { V1PolicyRule } from "@kubernetes/client-node";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import type { KubeObject } from "../../src/kube/api.ts";
import {
  ClusterRoleBindings,
  ClusterRoles,
  Leases,
  RoleBindings,
  Roles,
  ServiceAccounts,
  type ResourceType,
} from "../../src/kube/resources.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, exists, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, waitForPods } from "../support/workloads.ts";
import { BINARY, podlogreader } from "../support/process.ts";

const LEASE = "podlogreader-cleanup-test";
const MANAGED = { "app.kubernetes.io/managed-by": "podlogreader" };

/** What the chart's uninstall hook is granted cluster-wide (a ClusterRole), or in each watched namespace (a Role). */
const HOOK_CLUSTER_RULES: V1PolicyRule[] = [
  { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["list", "get", "delete"] },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: ["list", "get", "delete"] },
];
/** ...and in the release namespace, on its one Lease. */
const HOOK_LEASE_RULES: V1PolicyRule[] = [
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [LEASE], verbs: ["get", "delete"] },
];

let c: TestCluster;
let nsA: string;
let nsB: string;
let system: string;
let controller: Subprocess<"ignore", "ignore", "pipe">;
const clusterScoped: [ResourceType, string][] = [];

/** Objects the controller made for the opted-in workloads. */
const made: [ResourceType, () => string, string][] = [];
/** Look-alikes made by someone else, and their resourceVersions before any cleanup ran. */
const foreign: { rt: ResourceType; ns: () => string; name: string; body: KubeObject & Record<string, unknown>; rv?: string }[] = [];

const rv = async (rt: ResourceType, ns: string, name: string) =>
  ((await c.admin.get(rt, ns, name)) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

async function expectForeignIntact(): Promise<void> {
  for (const f of foreign) expect(`${f.rt.kind} ${f.name}: ${await rv(f.rt, f.ns(), f.name)}`).toBe(`${f.rt.kind} ${f.name}: ${f.rv}`);
}

async function present(list: typeof made): Promise<string[]> {
  const out: string[] = [];
  for (const [rt, ns, name] of list) if (await exists(rt, ns(), name)) out.push(`${rt.kind} ${ns()}/${name}`);
  return out;
}

/**
 * A ServiceAccount in the system namespace with the hook's RBAC: cluster-wide, or in `namespaces`
 * only (the chart's watchNamespaces), less `without` (e.g. "roles:delete"). Returns a kubeconfig
 * of its token.
 */
async function hookIdentity(name: string, opts: { without?: string; namespaces?: string[] } = {}): Promise<string> {
  const { without, namespaces } = opts;
  const strip = (rules: V1PolicyRule[]) =>
    rules.flatMap((r) => {
      if (!without) return [r];
      const [resource, verb] = without.split(":") as [string, string];
      if (!r.resources?.includes(resource)) return [r];
      const rest = r.resources.filter((x) => x !== resource);
      return [
        ...(rest.length ? [{ ...r, resources: rest }] : []),
        { ...r, resources: [resource], verbs: r.verbs.filter((v) => v !== verb) },
      ];
    });
  const sa = { kind: "ServiceAccount", name, namespace: system };
  const grant = async (namespace: string | undefined, rules: V1PolicyRule[]) => {
    const [roleType, bindingType, kind] = namespace ? [Roles, RoleBindings, "Role"] : [ClusterRoles, ClusterRoleBindings, "ClusterRole"];
    const objectName = namespace ? name : `${system}-${name}`;
    await c.admin.create(roleType, namespace, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind,
      metadata: { name: objectName },
      rules,
    } as KubeObject);
    await c.admin.create(bindingType, namespace, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: `${kind}Binding`,
      metadata: { name: objectName },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name: objectName },
      subjects: [sa],
    } as KubeObject);
    if (!namespace) clusterScoped.push([ClusterRoles, objectName], [ClusterRoleBindings, objectName]);
    // The authorizer reads RBAC from a cache: wait until it grants what was just bound.
    const probe =
      namespace === system
        ? { verb: "get", group: "coordination.k8s.io", resource: "leases", name: LEASE, namespace }
        : { verb: "list", group: "rbac.authorization.k8s.io", resource: "roles", namespace: namespace ?? "" };
    await eventually(`${name}'s ${kind} to be in effect`, async () =>
      (await serviceAccountCan(c.admin, system, name, probe)) ? true : undefined,
    );
  };
  await c.admin.create(ServiceAccounts, system, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } });
  for (const namespace of namespaces ?? [undefined]) await grant(namespace, strip(HOOK_CLUSTER_RULES));
  await grant(system, strip(HOOK_LEASE_RULES));
  const kubeconfig = join(c.dir, `${system}-${name}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token: await serviceAccountToken(system, name) }), { mode: 0o600 });
  return kubeconfig;
}

/** The compiled controller, leader-elected on LEASE, for the opted-in workloads of both namespaces. */
function startController(): Subprocess<"ignore", "ignore", "pipe"> {
  return Bun.spawn(
    [
      BINARY,
      `--namespace=${nsA},${nsB}`,
      "--create-sa-and-rolebinding",
      "--leader-elect",
      `--leader-election-namespace=${system}`,
      `--leader-election-id=${LEASE}`,
      "--debounce=100ms",
    ],
    {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", KUBECONFIG: c.kubeconfig },
    },
  );
}

const allMade = async () => ((await present(made)).length === made.length ? true : undefined);

beforeAll(async () => {
  c = await testCluster();
  nsA = await useNamespace("cleanup-a");
  nsB = await useNamespace("cleanup-b");
  system = await useNamespace("cleanup-system");

  const role = (ns: () => string, name: string, metadata: Record<string, unknown> = {}) =>
    foreign.push({
      rt: Roles,
      ns,
      name,
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name, ...metadata },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
      } as KubeObject & Record<string, unknown>,
    });
  /** A RoleBinding of the Role `roleName` to podlogreader's ServiceAccount for "web". */
  const bindingOfWeb = (ns: () => string, name: string, roleName: string) =>
    foreign.push({
      rt: RoleBindings,
      ns,
      name,
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
        subjects: [{ kind: "ServiceAccount", name: "podlogreader-web" }],
      } as KubeObject & Record<string, unknown>,
    });
  // A Role, a RoleBinding and a ServiceAccount of a managed name (for the workload "web"), without the label.
  role(() => nsB, "podlogreader-web");
  foreign.push({
    rt: ServiceAccounts,
    ns: () => nsB,
    name: "podlogreader-web",
    body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "podlogreader-web" } },
  });
  bindingOfWeb(() => nsB, "podlogreader-web", "podlogreader-web");
  // The label and the annotation, but no ownerReference.
  // (Its annotation names a live workload: one naming a gone workload is an orphan the controller itself removes.)
  role(() => nsA, "podlogreader-labelled", { labels: MANAGED, annotations: { "podlogreader.dev/workload": "Deployment/web" } });
  // The label only.
  role(() => nsA, "podlogreader-label-only", { labels: MANAGED });
  // A binding someone else made of podlogreader's ServiceAccount for "web".
  bindingOfWeb(() => nsA, "someone-elses-binding", "podlogreader-labelled");
  for (const f of foreign) await c.admin.create(f.rt, f.ns(), f.body);

  controller = startController();
  await createDeployment(nsA, "web", { replicas: 2 });
  await createDeployment(nsA, "api", { replicas: 1 });
  await createDeployment(nsB, "worker", { replicas: 1 });
  await waitForPods(nsA, "web", 2);
  for (const [ns, name] of [
    [() => nsA, "podlogreader-web"],
    [() => nsA, "podlogreader-api"],
    [() => nsB, "podlogreader-worker"],
  ] as const) {
    for (const rt of [RoleBindings, Roles, ServiceAccounts]) made.push([rt, ns, name]);
  }
  await eventually("the controller to make every Role, RoleBinding and ServiceAccount", allMade, 60_000);
  for (const f of foreign) f.rv = await rv(f.rt, f.ns(), f.name);
});

afterAll(async () => {
  if (controller.exitCode === null) controller.kill("SIGKILL");
  for (const [rt, name] of clusterScoped) await c.admin.delete(rt, undefined, name).catch(() => {});
});

describe("podlogreader cleanup", () => {
  test("warns while the controller still holds its Lease (dry run, nothing deleted)", async () => {
    const r = await podlogreader([
      "cleanup",
      "-n",
      nsA,
      `--leader-election-namespace=${system}`,
      `--leader-election-id=${LEASE}`,
      "--dry-run",
    ]);
    expect(r.stderr).toContain(`Warning: Lease ${system}/${LEASE} is held by`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`rolebinding.rbac.authorization.k8s.io "podlogreader-web" deleted from ${nsA} namespace (server dry run)`);
    expect(await present(made)).toHaveLength(made.length);
  });

  test("stop the controller", async () => {
    controller.kill("SIGTERM");
    expect(await controller.exited).toBe(0);
    const lease = (await c.admin.get(Leases, system, LEASE)) as { spec?: { holderIdentity?: string | null } };
    expect(lease.spec?.holderIdentity ?? undefined).toBeUndefined();
  });

  test("--dry-run lists what it would delete, in order, and deletes nothing", async () => {
    const r = await podlogreader(["cleanup", "-A", `--leader-election-namespace=${system}`, `--leader-election-id=${LEASE}`, "--dry-run"]);
    expect(r.code).toBe(0);
    const mine = r.stdout.split("\n").filter((l) => l.endsWith(`from ${nsA} namespace (server dry run)`));
    expect(mine).toEqual([
      `rolebinding.rbac.authorization.k8s.io "podlogreader-api" deleted from ${nsA} namespace (server dry run)`,
      `rolebinding.rbac.authorization.k8s.io "podlogreader-web" deleted from ${nsA} namespace (server dry run)`,
      `role.rbac.authorization.k8s.io "podlogreader-api" deleted from ${nsA} namespace (server dry run)`,
      `role.rbac.authorization.k8s.io "podlogreader-web" deleted from ${nsA} namespace (server dry run)`,
      `serviceaccount "podlogreader-api" deleted from ${nsA} namespace (server dry run)`,
      `serviceaccount "podlogreader-web" deleted from ${nsA} namespace (server dry run)`,
    ]);
    expect(r.stdout).toContain(`lease.coordination.k8s.io "${LEASE}" deleted from ${system} namespace (server dry run)`);
    expect(await present(made)).toHaveLength(made.length);
    expect(await exists(Leases, system, LEASE)).toBe(true);
    await expectForeignIntact();
  });

  test("without delete on roles it fails, names the permission, and stops before Roles", async () => {
    const kubeconfig = await hookIdentity("no-delete-roles", { without: "roles:delete" });
    const r = await podlogreader(["cleanup", "-n", nsA], { kubeconfig: kubeconfig });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`missing permission: delete roles.rbac.authorization.k8s.io in namespace "${nsA}"`);
    expect(r.stderr).toContain("stopped before deleting ServiceAccounts");
    // The bindings went first; the Roles and ServiceAccounts are still there.
    expect(await present(made)).toEqual([
      `Role ${nsA}/podlogreader-web`,
      `ServiceAccount ${nsA}/podlogreader-web`,
      `Role ${nsA}/podlogreader-api`,
      `ServiceAccount ${nsA}/podlogreader-api`,
      `RoleBinding ${nsB}/podlogreader-worker`,
      `Role ${nsB}/podlogreader-worker`,
      `ServiceAccount ${nsB}/podlogreader-worker`,
    ]);
  });

  describe("as the hook's ServiceAccount with only its RBAC", () => {
    let kubeconfig: string;
    beforeAll(async () => {
      kubeconfig = await hookIdentity("hook");
    });

    test("-n removes what podlogreader made in that namespace only, and leaves the look-alikes alone", async () => {
      const r = await podlogreader(["cleanup", "-n", nsA], { kubeconfig: kubeconfig });
      expect(r.stderr).not.toContain("cleanup:");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`role.rbac.authorization.k8s.io "podlogreader-web" deleted from ${nsA} namespace`);
      expect(r.stdout).toContain(
        `left alone: role.rbac.authorization.k8s.io ${nsA}/podlogreader-labelled: not made by podlogreader: it has no controller ` +
          `ownerReference`,
      );
      expect(r.stdout).toContain(
        `left alone: role.rbac.authorization.k8s.io ${nsA}/podlogreader-label-only: not made by podlogreader: it lacks the ` +
          `annotation podlogreader.dev/workload`,
      );
      expect(r.stderr).toContain(
        `Warning: RoleBinding ${nsA}/someone-elses-binding, which podlogreader did not make, binds ServiceAccount ` +
          `${nsA}/podlogreader-web, which is removed`,
      );
      expect(await present(made)).toEqual([
        `RoleBinding ${nsB}/podlogreader-worker`,
        `Role ${nsB}/podlogreader-worker`,
        `ServiceAccount ${nsB}/podlogreader-worker`,
      ]);
      expect(await exists(Leases, system, LEASE)).toBe(true);
      await expectForeignIntact();
    });

    test("-A removes the rest and the Lease; every look-alike keeps its resourceVersion", async () => {
      const r = await podlogreader(
        ["cleanup", "-A", `--leader-election-namespace=${system}`, `--leader-election-id=${LEASE}`, "-o", "json"],
        { kubeconfig: kubeconfig },
      );
      expect(r.stderr).not.toContain("cleanup:");
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as {
        ok: boolean;
        removed: { kind: string; namespace: string; name: string }[];
        leftAlone: { kind: string; namespace: string; name: string }[];
        lease: { result: string };
      };
      expect(report.ok).toBe(true);
      expect(report.removed.filter((x) => x.namespace === nsB || x.namespace === system).map((x) => `${x.kind} ${x.name}`)).toEqual([
        "RoleBinding podlogreader-worker",
        "Role podlogreader-worker",
        "ServiceAccount podlogreader-worker",
        `Lease ${LEASE}`,
      ]);
      expect(report.lease.result).toBe("deleted");
      expect(
        report.leftAlone
          .filter((x) => x.namespace === nsB)
          .map((x) => `${x.kind} ${x.name}`)
          .sort(),
      ).toEqual(["Role podlogreader-web", "RoleBinding podlogreader-web", "ServiceAccount podlogreader-web"]);
      expect(await present(made)).toEqual([]);
      expect(await exists(Leases, system, LEASE)).toBe(false);
      await expectForeignIntact();
    });

    test("a second run finds nothing, deletes nothing and exits 0", async () => {
      const r = await podlogreader(
        ["cleanup", "-n", `${nsA},${nsB}`, `--leader-election-namespace=${system}`, `--leader-election-id=${LEASE}`],
        { kubeconfig: kubeconfig },
      );
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("deleted");
      expect(r.stderr).toContain(`No resources made by podlogreader found in namespace ${nsA}, ${nsB}.`);
      await expectForeignIntact();
    });
  });

  // As the chart's post-delete hook meets it: the controller's pods are going away and its RBAC is
  // gone, so it cannot give its Lease up. Cleanup waits, as a standby would, until the Lease went
  // unrenewed for its whole duration; a leader stops writing before that.
  describe("--wait-for-lease", () => {
    let kubeconfig: string;
    const lease = () => [`--leader-election-namespace=${system}`, `--leader-election-id=${LEASE}`];
    beforeAll(async () => {
      // The chart's watchNamespaces form: Roles in the cleaned namespaces only.
      kubeconfig = await hookIdentity("waiting-hook", { namespaces: [nsA, nsB] });
      controller = startController();
      await eventually("the controller to make everything again", allMade, 60_000);
    });

    test("warns when a live leader still holds the Lease after the wait", async () => {
      const r = await podlogreader(["cleanup", "-n", `${nsA},${nsB}`, ...lease(), "--wait-for-lease=2s", "--dry-run"], {
        kubeconfig: kubeconfig,
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`Warning: Lease ${system}/${LEASE} is still held by`);
      expect(r.stderr).toContain("after waiting 2s");
    });

    test("waits out the Lease of a leader that stopped without releasing it, then removes everything", async () => {
      controller.kill("SIGKILL");
      await controller.exited;
      const r = await podlogreader(["cleanup", "-n", `${nsA},${nsB}`, ...lease(), "--wait-for-lease=90s"], { kubeconfig: kubeconfig });
      expect(r.stderr).not.toContain("Warning: Lease");
      expect(r.stderr).toContain(`Waiting up to 90s for Lease ${system}/${LEASE}`);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`lease.coordination.k8s.io "${LEASE}" deleted from ${system} namespace`);
      expect(await present(made)).toEqual([]);
      expect(await exists(Leases, system, LEASE)).toBe(false);
      await expectForeignIntact();
    });
  });
});

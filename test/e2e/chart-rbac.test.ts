// The chart's RBAC is sufficient and minimal, as the apiserver enforces it. The chart is rendered
// and its ServiceAccount and RBAC applied to the local control plane; the compiled binary then runs
// with the chart's own arguments and a real token of that ServiceAccount.
//   sufficient: the end-to-end scenario passes;
//   minimal:    with any single permission (one verb on one resource) taken out, the apiserver
//               refuses the controller something: the scenario fails, or passes only through a
//               fallback that the controller reports.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1ClusterRole, V1Deployment, V1Role } from "@kubernetes/client-node";
import type { Subprocess } from "bun";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { KINDS } from "../../src/access/kinds.ts";
import { managedName } from "../../src/access/names.ts";
import { Leases } from "../../src/kube/resources.ts";
import { Events, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { canReadLog, serviceAccountCan } from "../support/access.ts";
import { createRbac, find, hostArgs, isHook, permissions, render } from "../support/chart.ts";
import {
  eventually,
  exists,
  serviceAccountToken,
  TEST_FIELD_MANAGER,
  testCluster,
  useNamespace,
  waitUntilGone,
  type TestCluster,
} from "../support/cluster.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { createDeployment, patchDeployment, scale, waitForPods } from "../support/workloads.ts";
import { BINARY } from "../support/process.ts";
import { grantRole } from "../support/users.ts";

let c: TestCluster;
let system: string;
/** Release names carry the run, so ClusterRoles left by a killed run never collide. */
const run = process.pid.toString(36);
const clusterScoped: [ResourceType, string][] = [];

beforeAll(async () => {
  c = await testCluster();
  system = await useNamespace("podlogreader-system");
});
afterAll(async () => {
  for (const [rt, name] of clusterScoped) await c.admin.delete(rt, undefined, name).catch(() => {});
});

/** Applies the chart's identity and RBAC for `release`, with `without` taken out; returns the controller's arguments. */
async function install(
  release: string,
  without?: { role: string; permission: string },
  values: Record<string, unknown> = { createServiceAccountAndRoleBinding: true },
): Promise<string[]> {
  const manifests = render(release, system, values);
  await createRbac(
    c.admin,
    system,
    manifests.filter((m) => !isHook(m)),
    clusterScoped,
    without,
  );
  const [deployment] = find<V1Deployment>(manifests, "Deployment");
  return deployment!.spec!.template.spec!.containers[0]!.args!;
}

/** Runs the compiled binary as the release's ServiceAccount, with the chart's arguments, watching `ns`. */
async function runAs(
  release: string,
  chartArgs: string[],
  ns: string,
): Promise<{ proc: Subprocess<"ignore", "pipe", "pipe">; log: string[] }> {
  const token = await serviceAccountToken(system, `${release}-podlogreader`);
  const kubeconfig = join(c.dir, `${release}-${process.pid}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token }, system), { mode: 0o600 });
  const args = hostArgs(chartArgs)
    .map((a) => (a.startsWith("--debounce=") ? "--debounce=0" : a))
    .concat([`--namespace=${ns}`, "--log-format=text"]);
  const proc = Bun.spawn([BINARY, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig },
  });
  const log: string[] = [];
  void (async () => {
    for await (const chunk of proc.stderr) log.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
  })();
  return { proc, log };
}

/** One opted-in workload of each kind other than Deployment, named `name`. */
async function createKinds(ns: string, name: string): Promise<void> {
  const template = (app: string, extra: object = {}) => ({
    metadata: { labels: { app, ...OPT_IN } },
    spec: { containers: [{ name: "c", image: "registry.invalid/x:1" }], ...extra },
  });
  const create = (kind: keyof typeof KINDS, spec: object) =>
    c.admin.create(KINDS[kind].resource, ns, { apiVersion: KINDS[kind].apiVersion, kind, metadata: { name }, spec });
  await create("StatefulSet", {
    replicas: 1,
    serviceName: name,
    podManagementPolicy: "Parallel",
    selector: { matchLabels: { app: `${name}-s` } },
    template: template(`${name}-s`),
  });
  await create("DaemonSet", {
    selector: { matchLabels: { app: `${name}-d` } },
    template: template(`${name}-d`, { nodeSelector: { "no-such-node": "x" } }),
  });
  await create("ReplicaSet", { replicas: 1, selector: { matchLabels: { app: `${name}-r` } }, template: template(`${name}-r`) });
  await create("Job", { template: template(`${name}-j`, { restartPolicy: "Never" }) });
  await create("CronJob", {
    schedule: "0 0 1 1 *",
    jobTemplate: { spec: { template: template(`${name}-cj`, { restartPolicy: "Never" }) } },
  });
}

const kindRoles = (name: string) =>
  (["StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"] as const).map((kind) => managedName(kind, name));

/** Workloads of every kind, and a foreign Role in the way of one of them, before the controller starts. */
async function prepare(ns: string): Promise<void> {
  await createDeployment(ns, "web", { replicas: 1 });
  await createDeployment(ns, "taken", { replicas: 1 });
  await createKinds(ns, "w");
  await c.admin.create(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "podlogreader-taken" },
    rules: [],
  });
  await waitForPods(ns, "web", 1);
}

async function events(ns: string, reason: string, name: string) {
  const { items } = await c.admin.list(Events, { namespace: ns });
  return (items as { reason?: string; count?: number; involvedObject?: { name?: string } }[]).filter(
    (e) => e.reason === reason && e.involvedObject?.name === name,
  );
}

/**
 * What the controller must do, each step given `timeoutMs`: every kind gets its Role, whether
 * it existed at startup or appeared later, the
 * ServiceAccount reads its pods, a conflict becomes an Event (its repeat aggregated), a scale
 * is followed, hand edits of the RoleBinding and Role are reverted, a deleted ServiceAccount comes
 * back, workloads deleted without cascading lose their Roles, opting out deletes everything, and
 * the leader keeps renewing its Lease.
 */
async function scenario(ns: string, release: string, timeoutMs: number): Promise<void> {
  const wait = <T>(what: string, check: () => Promise<T | undefined>) => eventually(what, check, timeoutMs);
  const roles = ["podlogreader-web", ...kindRoles("w")];
  for (const r of roles) await wait(`Role ${r}`, async () => (await exists(Roles, ns, r)) || undefined);
  // Workloads that appear while it runs are seen through the watches.
  await createKinds(ns, "later");
  for (const r of kindRoles("later")) await wait(`Role ${r}`, async () => (await exists(Roles, ns, r)) || undefined);
  const [first] = await waitForPods(ns, "web", 1);
  await wait("the ServiceAccount to read web's pod", async () => (await canReadLog(c.admin, ns, "podlogreader-web", first!)) || undefined);
  await wait("a NameConflict Event", async () => (await events(ns, "NameConflict", "taken")).length > 0 || undefined);

  await scale(ns, "web", 2);
  const pods = await waitForPods(ns, "web", 2);
  await wait(
    "the scale to be followed",
    async () => (await Promise.all(pods.map((p) => canReadLog(c.admin, ns, "podlogreader-web", p)))).every(Boolean) || undefined,
  );
  // A repeat of an Event updates its count (a patch) instead of adding one.
  await scale(ns, "taken", 2);
  await wait(
    "the repeated NameConflict Event aggregated",
    async () => ((await events(ns, "NameConflict", "taken"))[0]?.count ?? 0) >= 2 || undefined,
  );

  await c.admin.mergePatch(
    RoleBindings,
    ns,
    "podlogreader-web",
    {
      subjects: [
        { kind: "ServiceAccount", name: "podlogreader-web", namespace: ns },
        { kind: "ServiceAccount", name: "default", namespace: ns },
      ],
    },
    { fieldManager: TEST_FIELD_MANAGER },
  );
  await wait("the hand-edited RoleBinding to be reverted", async () => {
    const rb = (await c.admin.get(RoleBindings, ns, "podlogreader-web")) as { subjects?: unknown[] };
    return rb.subjects?.length === 1 || undefined;
  });

  const role = (await c.admin.get(Roles, ns, "podlogreader-web")) as { rules: object[] };
  await c.admin.mergePatch(
    Roles,
    ns,
    "podlogreader-web",
    {
      rules: [...role.rules, { apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
    },
    { fieldManager: TEST_FIELD_MANAGER },
  );
  await wait("the hand-edited Role to be reverted", async () => {
    const now = (await c.admin.get(Roles, ns, "podlogreader-web")) as { rules: object[] };
    return now.rules.length === role.rules.length || undefined;
  });

  const sa = (await c.admin.get(ServiceAccounts, ns, "podlogreader-sts-w")) as { metadata: { uid: string } };
  await c.admin.delete(ServiceAccounts, ns, "podlogreader-sts-w");
  await wait("a deleted ServiceAccount to be created again", async () => {
    const now = (await c.admin.get(ServiceAccounts, ns, "podlogreader-sts-w").catch(() => undefined)) as
      | { metadata: { uid: string } }
      | undefined;
    return (now && now.metadata.uid !== sa.metadata.uid) || undefined;
  });

  // Deleted with --cascade=orphan: garbage collection leaves the Roles, so only podlogreader removes them.
  for (const kind of ["StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"] as const) {
    await c.admin.delete(KINDS[kind].resource, ns, "w", undefined, "Orphan");
  }
  for (const r of roles.slice(1))
    await wait(`Role ${r} to be deleted with its workload`, async () => !(await exists(Roles, ns, r)) || undefined);

  await patchDeployment(ns, "web", { spec: { template: { metadata: { labels: { "podlogreader-affiliate": null } } } } });
  for (const rt of [RoleBindings, Roles, ServiceAccounts]) {
    await wait(
      `${rt.kind} podlogreader-web to be deleted on opt-out`,
      async () => !(await exists(rt, ns, "podlogreader-web")) || undefined,
    );
  }

  await wait("the leader to renew its Lease", async () => {
    const lease = (await c.admin.get(Leases, system, `${release}-podlogreader`)) as { spec?: { acquireTime?: string; renewTime?: string } };
    return (lease.spec?.renewTime && lease.spec.renewTime !== lease.spec.acquireTime) || undefined;
  });
}

async function stop(proc: Subprocess): Promise<number> {
  proc.kill("SIGTERM");
  return proc.exited;
}

describe("the chart's RBAC", () => {
  let chartPermissions: { role: string; permission: string }[] = [];

  test("is sufficient: the scenario passes as the chart's ServiceAccount, with the chart's arguments", async () => {
    const release = `full${run}`;
    const ns = await useNamespace("chart-full");
    const args = await install(release);
    await prepare(ns);
    const { proc, log } = await runAs(release, args, ns);
    try {
      await scenario(ns, release, 60_000);
      expect(log.filter((l) => /\b403\b|forbidden/i.test(l))).toEqual([]);
    } finally {
      expect(await stop(proc)).toBe(0);
    }
    const manifests = render(release, system, { createServiceAccountAndRoleBinding: true });
    chartPermissions = [
      ...permissions(find<V1ClusterRole>(manifests, "ClusterRole", `${release}-podlogreader:controller`)[0]!.rules!).map((permission) => ({
        role: `${release}-podlogreader:controller`,
        permission,
      })),
      ...permissions(find<V1Role>(manifests, "Role", `${release}-podlogreader:leader-election`)[0]!.rules!).map((permission) => ({
        role: `${release}-podlogreader:leader-election`,
        permission,
      })),
    ];
    expect(chartPermissions.length).toBeGreaterThan(30);
  });

  test("is minimal: without any single permission, the controller is refused something", async () => {
    expect(chartPermissions.length).toBeGreaterThan(0);
    const unneeded: string[] = [];
    const queue = chartPermissions.map((p, i) => ({ ...p, index: i }));
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const release = `m${next.index}x${run}`;
        const role = next.role.replace(/^full[a-z0-9]*-/, `${release}-`);
        const ns = await useNamespace(`chart-min${next.index}`);
        const args = await install(release, { role, permission: next.permission });
        await prepare(ns);
        const { proc, log } = await runAs(release, args, ns);
        const failed = await scenario(ns, release, 15_000).then(
          () => false,
          () => true,
        );
        await stop(proc);
        // Needed means the apiserver refused the controller something without it. A failure counts
        // only with a refusal (not, say, a slow machine); a pass counts only without one, since the
        // controller falls back to other ways out when a write is refused (an emptied or re-made
        // binding where the update was refused) and says so.
        const refused = log.some((l) => /\b403\b/.test(l));
        if (!failed && !refused) unneeded.push(`${next.role} ${next.permission}: the scenario passed without it, and nothing was refused`);
        else if (failed && !refused) unneeded.push(`${next.role} ${next.permission}: the scenario failed, but nothing was refused`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    expect(unneeded).toEqual([]);
  }, 900_000);
});

describe("the chart's RBAC with the default values (createServiceAccountAndRoleBinding: false)", () => {
  const grantsOnly =
    "lets the controller watch, delete and patch RoleBindings (a grant whose delete is refused is emptied), and nothing more on " +
    "them, so it ends an expired grant";
  test(grantsOnly, async () => {
    const release = `dflt${run}`;
    const ns = await useNamespace("chart-default");
    const args = await install(release, undefined, {});
    const sa = `${release}-podlogreader`;
    const can = (verb: string) =>
      serviceAccountCan(c.admin, system, sa, { namespace: ns, verb, resource: "rolebindings", group: "rbac.authorization.k8s.io" });
    expect({
      list: await can("list"),
      watch: await can("watch"),
      delete: await can("delete"),
      get: await can("get"),
      create: await can("create"),
      patch: await can("patch"),
      update: await can("update"),
    }).toEqual({ list: true, watch: true, delete: true, get: false, create: false, patch: true, update: false });

    await createDeployment(ns, "web", { replicas: 1 });
    const { proc, log } = await runAs(release, args, ns);
    try {
      await eventually("Role podlogreader-web", async () => (await exists(Roles, ns, "podlogreader-web")) || undefined, 60_000);
      const grant = await grantRole(ns, { kind: "Deployment", name: "web" }, [{ kind: "User", name: "alice" }], Date.now() + 3000);
      await waitUntilGone(RoleBindings, ns, grant, 60_000);
      expect(log.filter((l) => /\b403\b|forbidden/i.test(l))).toEqual([]);
    } finally {
      expect(await stop(proc)).toBe(0);
    }
  }, 180_000);
});

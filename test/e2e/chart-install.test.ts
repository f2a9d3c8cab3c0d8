// The chart installed with helm on the local control plane, as a platform team would run it.
//
// kwok simulates the nodes: it runs no container, and marks a scheduled pod Running and Ready by
// its stages without running any probe. So what the pods would run is run here from the rendered
// objects themselves: the compiled binary, with the pod's own arguments, as the pod's own
// ServiceAccount (a real token), so the apiserver authorizes exactly the chart's RBAC:
// - the controller, with the Deployment's arguments (metrics and probes moved to free loopback ports);
// - the `helm test` Pod's audit, and the cleanup hook Job's command, after
//   `helm uninstall --no-hooks` (a hook Job under kwok would "succeed" without running anything):
//   the hook's objects are created as helm would create them, its command run, and its objects
//   deleted as its hook-delete-policy says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Deployment, V1Job, V1Pod } from "@kubernetes/client-node";
import { DEFAULT_CLUSTER_DIR, isRunning, readState } from "../../scripts/harness/controlplane.ts";
import { managedName } from "../../src/access/names.ts";
import { Events, Leases, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import {
  chartDir,
  helmDeploy,
  helmOk,
  helmOnCluster,
  hostArgs,
  KUBE_VERSION,
  parseManifests,
  runAsServiceAccount,
  runToEnd,
  type Manifest,
  type Running,
} from "../support/chart.ts";
import { eventually, exists, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment } from "../support/workloads.ts";
import { kubectl } from "../support/process.ts";

let c: TestCluster;
let helmHome: string;

beforeAll(async () => {
  c = await testCluster();
  helmHome = mkdtempSync(join(tmpdir(), "podlogreader-helm-"));
});

/** The release's objects as helm installed them (no hooks). */
async function releaseManifest(release: string, ns: string): Promise<Manifest[]> {
  return parseManifests(await helmOk(["get", "manifest", release, "-n", ns], helmHome));
}

function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** Runs the installed Deployment's container arguments as its ServiceAccount; returns the process and where its probes are. */
async function runController(manifests: Manifest[], ns: string): Promise<Running & { health: string }> {
  const d = manifests.find((m) => m.kind === "Deployment") as unknown as V1Deployment;
  const pod = d.spec!.template.spec!;
  const port = freePort();
  const local = hostArgs(pod.containers[0]!.args!).map((a) =>
    a.startsWith("--health-probe-bind-address=") ? a.replace(/=.*/, `=127.0.0.1:${port}`) : a,
  );
  const running = await runAsServiceAccount(ns, pod.serviceAccountName!, [...local, "--log-format=text"]);
  return { ...running, health: `http://127.0.0.1:${port}` };
}

const MANAGED = "app.kubernetes.io/managed-by=podlogreader";

/** Every object of these resources in every namespace that matches the label selector, as "kind ns/name". */
async function everywhere(resources: string, selector: string): Promise<string[]> {
  const r = await kubectl(["get", resources, "-A", "-l", selector, "-o", "json"]);
  expect(r.stderr).toBe("");
  const { items } = JSON.parse(r.stdout) as { items: Manifest[] };
  return items.map((i) => `${i.kind} ${i.metadata.namespace ?? ""}/${i.metadata.name}`);
}

/**
 * Objects in any namespace that carry podlogreader's label and were not there before. Earlier
 * suites of the same run may have left some that carry the label without being podlogreader's,
 * which cleanup rightly leaves; whatever this release's controller made must be gone.
 */
async function newSince(before: Set<string>): Promise<string[]> {
  return (await everywhere("roles,rolebindings,serviceaccounts", MANAGED)).filter((o) => !before.has(o));
}

/**
 * Runs the release's post-delete hook as helm would after `helm uninstall --no-hooks`: create by weight, run the Job's command as its
 * ServiceAccount, delete.
 */
async function runCleanupHook(hooks: Manifest[], ns: string): Promise<{ status: number; log: string[] }> {
  const postDelete = hooks
    .filter((h) => h.metadata.annotations?.["helm.sh/hook"] === "post-delete")
    .sort(
      (a, b) => Number(a.metadata.annotations?.["helm.sh/hook-weight"] ?? 0) - Number(b.metadata.annotations?.["helm.sh/hook-weight"] ?? 0),
    );
  const job = postDelete.find((h) => h.kind === "Job") as unknown as V1Job;
  expect(job).toBeDefined();
  const objects = postDelete.filter((h) => h.kind !== "Job");
  for (const o of objects) {
    const r = await kubectl(["create", "-f", "-"], { stdin: JSON.stringify(o) });
    expect(r.stderr).toBe("");
  }
  const pod = job.spec!.template.spec!;
  const result = await runToEnd(ns, pod.serviceAccountName!, pod.containers[0]!.args!);
  for (const o of objects) await kubectl(["delete", "-f", "-"], { stdin: JSON.stringify(o) });
  return result;
}

describe("installed with helm, watching two namespaces", () => {
  const release = "podlogreader";
  let ns: string;
  let other: string;
  let controller: (Running & { health: string }) | undefined;
  /** Opted-in Deployments named like the chart's objects: each must get a Role etc. of its own. */
  const lookalikes = [
    "audit",
    "cleanup",
    "controller",
    "leader-election",
    "audit-reads",
    "audit-reviews",
    "audit-rbac-reads",
    "cleanup-lease",
    "sa-audit",
    "sa-cleanup",
    "metrics",
    "test",
  ];
  let values: Record<string, unknown>;
  let chartObjects: Manifest[] = [];
  /** What carried podlogreader's label before its controller ran (other suites' objects, on a cluster they share). */
  let before = new Set<string>();

  beforeAll(async () => {
    ns = await useNamespace("chart-inst");
    other = await useNamespace("chart-inst-w");
    values = {
      "image.repository": "registry.invalid/podlogreader",
      watchNamespaces: [ns, other],
      createServiceAccountAndRoleBinding: true,
      leaderElection: { leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s" },
    };
  });
  afterAll(async () => {
    await controller?.stop();
  });

  test("helm install --wait succeeds, and the notes tell how to opt in, hand out access and what HA needs", async () => {
    const out = await helmDeploy("install", release, ns, values, helmHome);
    expect(out).toContain("STATUS: deployed");
    for (const phrase of ["podlogreader-affiliate", "podlogreader kubeconfig deployment/NAME", "PodDisruptionBudget", `Lease ${release}`])
      expect(out).toContain(phrase);
    const d = JSON.parse((await kubectl(["get", "deployment", release, "-n", ns, "-o", "json"])).stdout) as V1Deployment;
    // kwok marked both pods Ready: that they were scheduled and that --wait waited, not that a probe passed.
    expect(d.status?.readyReplicas).toBe(2);
    chartObjects = await releaseManifest(release, ns);
    expect(chartObjects.map((o) => o.kind)).toContain("PodDisruptionBudget");
  }, 180_000);

  test("the controller runs with the Deployment's arguments as its " +
    "ServiceAccount; its probes answer where the Deployment's probes look", async () => {
    before = new Set(await everywhere("roles,rolebindings,serviceaccounts", MANAGED));
    for (const name of lookalikes) await createDeployment(ns, name, { replicas: 1 });
    await createDeployment(other, "audit-reads", { replicas: 1 });
    controller = await runController(chartObjects, ns);
    const d = chartObjects.find((m) => m.kind === "Deployment") as unknown as V1Deployment;
    const container = d.spec!.template.spec!.containers[0]!;
    for (const probe of [container.livenessProbe!, container.readinessProbe!]) {
      const path = probe.httpGet!.path!;
      await eventually(
        `${path} to answer 200`,
        async () => (await fetch(`${controller!.health}${path}`).catch(() => undefined))?.status === 200 || undefined,
        60_000,
      );
    }
  }, 120_000);

  test("opted-in Deployments named like the chart's objects get objects of their own; the chart's are untouched", async () => {
    const expected = [
      ...lookalikes.map((n) => [ns, managedName("Deployment", n)] as const),
      [other, managedName("Deployment", "audit-reads")] as const,
    ];
    for (const [where, name] of expected) {
      for (const rt of [Roles, RoleBindings, ServiceAccounts]) {
        await eventually(
          `${rt.kind} ${where}/${name}`,
          async () => {
            const o = (await c.admin.get(rt, where, name).catch(() => undefined)) as Manifest | undefined;
            return o?.metadata.labels?.["app.kubernetes.io/managed-by"] === "podlogreader" || undefined;
          },
          60_000,
        );
      }
    }
    const { items } = await c.admin.list(Events, { namespace: ns });
    expect((items as { reason?: string }[]).filter((e) => e.reason === "NameConflict")).toEqual([]);
    // The chart's own ServiceAccounts, Roles and RoleBindings are as helm made them.
    const now = await releaseManifest(release, ns);
    for (const o of now.filter((o) => ["ServiceAccount", "Role", "RoleBinding"].includes(o.kind))) {
      const live = JSON.parse(
        (await kubectl(["get", o.kind, o.metadata.name, "-n", o.metadata.namespace ?? ns, "-o", "json"])).stdout,
      ) as Manifest;
      expect([
        o.kind,
        live.metadata.labels?.["app.kubernetes.io/managed-by"],
        live.metadata.annotations?.["meta.helm.sh/release-name"],
      ]).toEqual([o.kind, "Helm", release]);
      expect(live.metadata.annotations?.["podlogreader.dev/workload"]).toBeUndefined();
    }
    expect(controller!.log.filter((l) => /\b403\b|forbidden/i.test(l))).toEqual([]);
  }, 180_000);

  test("helm upgrade turning the audit and helm test on takes none of the controller's objects", async () => {
    const before = await managedObjects([ns, other]);
    const out = await helmDeploy("upgrade", release, ns, { ...values, "audit.enabled": true, "tests.enabled": true }, helmHome);
    expect(out).toContain("STATUS: deployed");
    const after = await managedObjects([ns, other]);
    expect(after.map((o) => [o.kind, o.metadata.name, o.metadata.uid, o.metadata.annotations?.["meta.helm.sh/release-name"]])).toEqual(
      before.map((o) => [o.kind, o.metadata.name, o.metadata.uid, undefined]),
    );
    chartObjects = await releaseManifest(release, ns);
  }, 180_000);

  test("the helm test Pod's audit passes as its ServiceAccount", async () => {
    const hooks = parseManifests(await helmOk(["get", "hooks", release, "-n", ns], helmHome));
    const pod = hooks.find((h) => h.kind === "Pod" && h.metadata.annotations?.["helm.sh/hook"] === "test") as unknown as V1Pod;
    expect(pod.spec!.containers.length).toBe(2);
    for (const container of pod.spec!.containers) {
      const r = await runToEnd(ns, pod.spec!.serviceAccountName!, container.args!);
      expect({ args: container.args, status: r.status, log: r.status === 0 ? [] : r.log }).toEqual({
        args: container.args,
        status: 0,
        log: [],
      });
    }
  }, 120_000);

  test("helm uninstall and its cleanup hook leave nothing podlogreader made, nor its Lease, in any namespace", async () => {
    // Not podlogreader's: it carries the label only, and must stay.
    await c.admin.create(Roles, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "podlogreader-foreign", labels: { "app.kubernetes.io/managed-by": "podlogreader" } },
      rules: [],
    });
    expect(await exists(Leases, ns, release)).toBe(true);
    const ours = await newSince(before);
    expect(ours.length).toBeGreaterThan(3 * lookalikes.length);
    const hooks = parseManifests(await helmOk(["get", "hooks", release, "-n", ns], helmHome));
    await helmOk(["uninstall", release, "-n", ns, "--no-hooks", "--wait"], helmHome);
    // The Deployment's pods stop once it is deleted.
    await controller!.stop();
    const cleanup = await runCleanupHook(hooks, ns);
    expect({ status: cleanup.status, log: cleanup.status === 0 ? [] : cleanup.log }).toEqual({ status: 0, log: [] });
    expect(await newSince(before)).toEqual([`Role ${ns}/podlogreader-foreign`]);
    await c.admin.delete(Roles, ns, "podlogreader-foreign");
    expect(await exists(Leases, ns, release)).toBe(false);
    // Nothing of the release or of its hook is left either.
    expect(
      await everywhere(
        "all,roles,rolebindings,clusterroles,clusterrolebindings,serviceaccounts,configmaps,poddisruptionbudgets,leases",
        `app.kubernetes.io/instance=${release}`,
      ),
    ).toEqual([]);
  }, 180_000);
});

/**
 * A cluster that `make cluster` keeps running is shared: a cluster-wide controller and `cleanup -A` there would act on other runs'
 * workloads.
 */
const shared = (() => {
  const state = readState(DEFAULT_CLUSTER_DIR);
  return state !== undefined && isRunning(state);
})();

describe.skipIf(shared)("installed cluster-wide (the default): uninstall cleans every namespace", () => {
  test("the controller's objects in every namespace and its Lease are gone after helm uninstall and the hook", async () => {
    const release = "plr-all";
    const ns = await useNamespace("chart-all");
    const teams = [await useNamespace("chart-all-a"), await useNamespace("chart-all-b")];
    await helmDeploy(
      "install",
      release,
      ns,
      {
        "image.repository": "registry.invalid/podlogreader",
        createServiceAccountAndRoleBinding: true,
        leaderElection: { leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s" },
      },
      helmHome,
    );
    for (const team of teams) await createDeployment(team, "web", { replicas: 1 });
    const before = new Set(await everywhere("roles,rolebindings,serviceaccounts", MANAGED));
    const controller = await runController(await releaseManifest(release, ns), ns);
    try {
      for (const team of teams) {
        for (const rt of [Roles, RoleBindings, ServiceAccounts]) {
          await eventually(
            `${rt.kind} ${team}/podlogreader-web`,
            async () => (await exists(rt, team, "podlogreader-web")) || undefined,
            60_000,
          );
        }
      }
      expect(await exists(Leases, ns, `${release}-podlogreader`)).toBe(true);
      const hooks = parseManifests(await helmOk(["get", "hooks", release, "-n", ns], helmHome));
      expect(hooks.filter((h) => h.kind === "ClusterRole").length).toBe(1);
      await helmOk(["uninstall", release, "-n", ns, "--no-hooks", "--wait"], helmHome);
      await controller.stop();
      const cleanup = await runCleanupHook(hooks, ns);
      expect({ status: cleanup.status, log: cleanup.status === 0 ? [] : cleanup.log }).toEqual({ status: 0, log: [] });
      expect(await newSince(before)).toEqual([]);
      expect(await exists(Leases, ns, `${release}-podlogreader`)).toBe(false);
      expect(
        await everywhere(
          "all,roles,rolebindings,clusterroles,clusterrolebindings,serviceaccounts,configmaps,poddisruptionbudgets,leases",
          `app.kubernetes.io/instance=${release}`,
        ),
      ).toEqual([]);
    } finally {
      await controller.stop();
    }
  }, 240_000);
});

async function managedObjects(namespaces: string[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const rt of [Roles, RoleBindings, ServiceAccounts] as ResourceType[]) {
    for (const namespace of namespaces) {
      const { items } = await c.admin.list(rt, { namespace, labelSelector: MANAGED });
      out.push(...(items as Manifest[]).map((i) => ({ ...i, kind: rt.kind })));
    }
  }
  return out.sort((a, b) =>
    `${a.kind}/${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.namespace}/${b.metadata.name}`),
  );
}

describe("as a dependency of another chart, with condition: podlogreader.enabled", () => {
  let parent: string;
  let ns: string;

  beforeAll(async () => {
    ns = await useNamespace("chart-parent");
    parent = join(mkdtempSync(join(tmpdir(), "podlogreader-parent-")), "platform");
    mkdirSync(parent);
    const { version } = Bun.YAML.parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as { version: string };
    writeFileSync(
      join(parent, "Chart.yaml"),
      Bun.YAML.stringify({
        apiVersion: "v2",
        name: "platform",
        version: "1.0.0",
        dependencies: [{ name: "podlogreader", version, repository: `file://${chartDir}`, condition: "podlogreader.enabled" }],
      }),
    );
    writeFileSync(
      join(parent, "values.yaml"),
      Bun.YAML.stringify({
        global: { team: "platform" },
        podlogreader: { enabled: true, image: { repository: "registry.invalid/podlogreader" }, watchNamespaces: [ns], replicaCount: 1 },
      }),
    );
    await helmOk(["dependency", "build", parent], helmHome);
  });

  test("renders with it on, and renders none of it with it off", async () => {
    const on = parseManifests(await helmOk(["template", "plat", parent, "-n", ns, "--kube-version", KUBE_VERSION], helmHome));
    expect(on.filter((m) => m.kind === "Deployment").map((m) => m.metadata.name)).toEqual(["plat-podlogreader"]);
    const off = parseManifests(
      await helmOk(["template", "plat", parent, "-n", ns, "--kube-version", KUBE_VERSION, "--set", "podlogreader.enabled=false"], helmHome),
    );
    expect(off).toEqual([]);
    const lint = await helmOnCluster(["lint", parent, "--strict", "--kube-version", KUBE_VERSION], helmHome);
    expect(lint.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
  });

  test("installs with helm install --wait, and uninstalls", async () => {
    const out = await helmOk(["install", "plat", parent, "-n", ns, "--wait", "--timeout", "120s"], helmHome);
    expect(out).toContain("STATUS: deployed");
    const d = JSON.parse((await kubectl(["get", "deployment", "plat-podlogreader", "-n", ns, "-o", "json"])).stdout) as V1Deployment;
    expect(d.status?.readyReplicas).toBe(1);
    // No controller ran, so there is nothing for the cleanup hook to do; kwok cannot run it anyway.
    await helmOk(["uninstall", "plat", "-n", ns, "--no-hooks", "--wait"], helmHome);
    expect(
      await everywhere("all,roles,rolebindings,clusterroles,clusterrolebindings,serviceaccounts", "app.kubernetes.io/instance=plat"),
    ).toEqual([]);
  }, 180_000);
});

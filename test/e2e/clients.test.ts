// stern, the multi-pod log follower people already use, run as a ServiceAccount with a real
// token against the local cluster: it follows a Deployment across a scale-up with the
// `namespace` mode's permissions; with the `own` mode's it is refused for deploy/NAME (a
// label-selected watch) and works for one pod named by a field selector.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { V1PolicyRule } from "@kubernetes/client-node";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, scale, waitForPods } from "../support/workloads.ts";
import { withLogs } from "../support/pod-logs.ts";
import { background } from "../support/process.ts";
import { roleBinding, serviceAccountSubject } from "../support/fixtures.ts";

const repoRoot = resolve(import.meta.dir, "../..");
let c: TestCluster;
let ns: string;
let dir: string;
let stern: string;
let otherPod: string;

const linesOf = (pod: string) => [`${pod} starting`, `${pod} handled GET /`];

function sternBinary(): string {
  const script = join(repoRoot, "scripts", "build-tool.sh");
  const result = spawnSync("bash", [script, "stern"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${script} stern failed with exit code ${result.status}`);
  return result.stdout.trim().split("\n").at(-1)!;
}

/** The rules of each grant mode, written out by hand, for the Deployment `web` and its pods. */
function rules(mode: "own" | "namespace", pods: string[]): V1PolicyRule[] {
  const own: V1PolicyRule[] = [
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"], resourceNames: pods },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: pods },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] },
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: [`reader-${mode}`] },
  ];
  return mode === "own" ? own : [...own, { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }];
}

/** A ServiceAccount bound to a Role with the mode's rules, and a kubeconfig with its token. */
async function reader(mode: "own" | "namespace", pods: string[]): Promise<string> {
  const name = `reader-${mode}`;
  await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } });
  await c.admin.create(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name },
    rules: rules(mode, pods),
  });
  await c.admin.create(RoleBindings, ns, roleBinding(name, name, [serviceAccountSubject(ns, name)]));
  // stern gives up for good when its first watch is refused, so start it only once the apiserver's
  // authorizer has seen the binding.
  const granted =
    mode === "namespace" ? { verb: "watch", resource: "pods" } : { verb: "get", resource: "pods", subresource: "log", name: pods[0] };
  await eventually(`the apiserver to authorize ${name}`, async () => (await serviceAccountCan(c.admin, ns, name, granted)) || undefined);
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, kubeconfigYaml(c.server, c.caPem, { token: await serviceAccountToken(ns, name) }, ns), { mode: 0o600 });
  return file;
}

/** stern as the reader whose kubeconfig is given, in the test namespace, its output collected. */
const sternAs = (kubeconfig: string, args: string[]) =>
  background([stern, "--kubeconfig", kubeconfig, "-n", ns, "--color", "never", ...args]);

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("clients");
  dir = mkdtempSync(join(tmpdir(), "podlogreader-clients-"));
  stern = sternBinary();
  await createDeployment(ns, "web", { replicas: 1, optIn: false });
  await createDeployment(ns, "other", { replicas: 1, optIn: false });
  [otherPod] = (await waitForPods(ns, "other", 1)) as [string];
  await withLogs(ns, [otherPod], (pod) => [`${pod} SECRET other-team line`]);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("stern as a ServiceAccount", () => {
  test("namespace mode: stern follows deploy/web across a scale-up, and prints the new pods' lines", async () => {
    const first = await waitForPods(ns, "web", 1);
    await withLogs(ns, first, linesOf);
    const kubeconfig = await reader("namespace", first);
    const run = sternAs(kubeconfig, ["deploy/web"]);
    try {
      await run.waitFor("stern to print the first pod's lines", (out) => linesOf(first[0]!).every((l) => out.includes(l)));

      await scale(ns, "web", 3);
      const all = await waitForPods(ns, "web", 3);
      const added = all.filter((p) => !first.includes(p));
      await withLogs(ns, added, linesOf);
      // As the controller does: the new pods' names join the Role once they exist.
      await c.admin.update(Roles, ns, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "reader-namespace" },
        rules: rules("namespace", all),
      });

      // stern retries a refused log request after up to 20 s (its rate limiter).
      await run.waitFor("stern to print the new pods' lines", (out) => added.flatMap(linesOf).every((l) => out.includes(l)), 120_000);
      for (const pod of all) expect(run.seen.stdout).toContain(`${pod} app ${pod} starting`);
      expect(run.proc.exitCode).toBeNull();
    } finally {
      await run.stop();
    }
    expect(run.seen.stdout).not.toContain("SECRET");
  }, 180_000);

  test("own mode: stern is refused, because it watches pods by label across the namespace", async () => {
    const pods = await waitForPods(ns, "web", 3);
    const kubeconfig = await reader("own", pods);
    const run = sternAs(kubeconfig, ["deploy/web"]);
    let exit: number | null = null;
    try {
      exit = await Promise.race([run.proc.exited, Bun.sleep(20_000).then(() => null)]);
    } finally {
      await run.stop();
    }
    // What stern v1.33.0 prints after reading the Deployment, which the grant allows (klog escapes the quotes):
    //   E1129 06:21:09.895124   17582 retrywatcher.go:144] "Watch failed: ensure the client has valid
    //   credentials and watch permissions on the resource" err="pods is forbidden: User
    //   \"system:serviceaccount:NS:reader-own\" cannot watch resource \"pods\" in API group \"\" in the namespace \"NS\""
    //   Error: lost watch connection
    // and exits 1. (With --no-follow it would need list pods by label, which the grant lacks too.)
    expect(exit).toBe(1);
    const stderr = run.seen.stderr.replaceAll("\\", "");
    expect(stderr).toContain(`cannot watch resource "pods" in API group "" in the namespace "${ns}"`);
    expect(stderr).toContain("Error: lost watch connection");
    expect(run.seen.stdout).toBe("");
  }, 60_000);

  test("own mode: stern follows one pod named by --field-selector " +
    "metadata.name=POD, which RBAC matches against resourceNames", async () => {
    const [pod] = (await waitForPods(ns, "web", 3)) as [string];
    const run = sternAs(join(dir, "reader-own.kubeconfig"), ["--field-selector", `metadata.name=${pod}`, "."]);
    try {
      await run.waitFor(`stern to print ${pod}'s lines`, (out) => linesOf(pod).every((l) => out.includes(`${pod} app ${l}`)));
      expect(run.proc.exitCode).toBeNull();
    } finally {
      await run.stop();
    }
    expect(run.seen.stderr).not.toContain("forbidden");
    expect(run.seen.stdout).not.toContain("SECRET");
  }, 90_000);
});

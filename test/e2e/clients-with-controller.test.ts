// The log tools people use, against the Roles the controller itself keeps (not hand-written ones):
// stern follows a scale-up in `namespace` mode, and `podlogreader logs -f` (the compiled binary)
// follows a rollout in `own` mode, each as the workload's ServiceAccount with a real token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import type { PodVisibility } from "../../src/access/desired.ts";
import { managedName } from "../../src/access/names.ts";
import { eventually, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, rollout, scale, waitForPods } from "../support/workloads.ts";
import { withLogs } from "../support/pod-logs.ts";
import { background, BINARY, type Background } from "../support/process.ts";

const repoRoot = resolve(import.meta.dir, "../..");
const sa = managedName("Deployment", "web");
const linesOf = (pod: string) => [`${pod} starting`, `${pod} handled GET /`];
const SECRET = "SECRET other-team line";

let c: TestCluster;
let dir: string;
beforeAll(async () => {
  c = await testCluster();
  dir = mkdtempSync(join(tmpdir(), "podlogreader-clients-ctl-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A namespace with the controller in `mode`, Deployments web (opted in) and other, and their logs. */
async function setUp(mode: PodVisibility): Promise<{ ns: string; controller: RunningController; kubeconfig: string; web: string[] }> {
  const ns = await useNamespace(`clients-${mode}`);
  const controller = await startController([ns], { podVisibility: mode });
  await createDeployment(ns, "web", { replicas: 1 });
  await createDeployment(ns, "other", { replicas: 1 });
  const web = await waitForPods(ns, "web", 1);
  const [other] = (await waitForPods(ns, "other", 1)) as [string];
  await withLogs(ns, web, linesOf);
  await withLogs(ns, [other], (pod) => [`${pod} ${SECRET}`]);
  await expectReadable(ns, sa, web);
  const kubeconfig = join(dir, `${ns}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token: await serviceAccountToken(ns, sa) }, ns), { mode: 0o600 });
  return { ns, controller, kubeconfig, web };
}

/**
 * Runs the steps while the follower runs, which must still run after them; then stops both. Nothing of the other Deployment was printed.
 */
async function whileFollowing(run: Background, controller: RunningController, steps: () => Promise<void>): Promise<void> {
  try {
    await steps();
    expect(run.proc.exitCode).toBeNull();
  } finally {
    await run.stop();
    await controller.stop();
  }
  expect(run.seen.stdout).not.toContain(SECRET);
}

describe("namespace mode, with the controller's Role", () => {
  test("stern follows deploy/web across a scale-up and prints every new pod's log, and nothing of the other Deployment", async () => {
    const build = spawnSync("bash", [join(repoRoot, "scripts", "build-tool.sh"), "stern"], {
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
    });
    expect(build.status).toBe(0);
    const stern = build.stdout.trim().split("\n").at(-1)!;
    const { ns, controller, kubeconfig, web } = await setUp("namespace");
    const run = background([stern, "--kubeconfig", kubeconfig, "-n", ns, "--color", "never", "deploy/web"]);
    await whileFollowing(run, controller, async () => {
      await run.waitFor("stern to print the first pod's lines", (out) => linesOf(web[0]!).every((l) => out.includes(l)));
      await scale(ns, "web", 3);
      const all = await waitForPods(ns, "web", 3);
      const added = all.filter((p) => !web.includes(p));
      await withLogs(ns, added, linesOf);
      // stern may open a new pod's log before the harness gives it lines of its own, and then
      // shows the local cluster's default line: either way it is that pod's log, under its name.
      // (A log request refused in the moment before the grant is retried by stern after up to 20 s.)
      await run.waitFor("stern to print lines of every new pod", (out) => added.every((p) => out.includes(`${p} app `)));
    });
  }, 240_000);
});

describe("own mode, with the controller's Role", () => {
  test("podlogreader logs -f deploy/web follows a rollout: the new pods' lines appear, the other Deployment's never", async () => {
    const { ns, controller, kubeconfig, web } = await setUp("own");
    const run = background([BINARY, "logs", "-f", "deploy/web", "--kubeconfig", kubeconfig]);
    await whileFollowing(run, controller, async () => {
      await run.waitFor("the first pod's lines", (out) => linesOf(web[0]!).every((l) => out.includes(l)));
      await rollout(ns, "web");
      const next = await eventually(
        "the rollout's new pod",
        async () => {
          const pods = await waitForPods(ns, "web", 1).catch(() => undefined);
          return pods && pods[0] !== web[0] ? pods : undefined;
        },
        120_000,
      );
      await withLogs(ns, next, linesOf);
      await run.waitFor("the new pod's lines", (out) => linesOf(next[0]!).every((l) => out.includes(`[pod/${next[0]}/app] ${l}`)));
    });
  }, 240_000);
});

// Reading real log lines as the generated ServiceAccount: the built kubectl, a real token, pods
// running on a simulated node (kwok), and log content from CRI files the harness writes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { criLogLine, setPodLog } from "../../scripts/harness/simulated-nodes.ts";
import { managedName } from "../../src/access/names.ts";
import { canReadLog } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, rollout, waitForPods } from "../support/workloads.ts";
import { kubectl } from "../support/process.ts";
import { withLogs } from "../support/pod-logs.ts";

let c: TestCluster;
let ns: string;
let dir: string;
let kubeconfig: string;
let controller: RunningController;
let webPods: string[];
let otherPod: string;
const sa = managedName("Deployment", "web");

const linesOf = (pod: string) => [`${pod} starting`, `${pod} serving on :8080`, `${pod} handled GET /`];
const otherLines = (pod: string) => [`${pod} SECRET other-team line`];

/** kubectl logs as the ServiceAccount, retried until kwok has picked up the pod's log file. */
async function logsOf(args: string[], expected: string[]): Promise<string> {
  return eventually(`kubectl logs ${args.join(" ")} to print its lines`, async () => {
    const r = await kubectl(["logs", ...args], { kubeconfig });
    return r.code === 0 && expected.every((l) => r.stdout.includes(l)) ? r.stdout : undefined;
  });
}

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("logs");
  dir = mkdtempSync(join(tmpdir(), "podlogreader-logs-"));
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 2 });
  await createDeployment(ns, "other", { replicas: 1 });
  webPods = await waitForPods(ns, "web", 2);
  [otherPod] = (await waitForPods(ns, "other", 1)) as [string];
  await withLogs(ns, webPods, linesOf);
  await withLogs(ns, [otherPod], otherLines);
  await expectReadable(ns, sa, webPods);
  kubeconfig = join(dir, "web.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token: await serviceAccountToken(ns, sa) }, ns), { mode: 0o600 });
});
afterAll(async () => {
  await controller?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("kubectl logs as the workload's ServiceAccount", () => {
  test("kubectl logs <pod> prints that pod's lines", async () => {
    for (const pod of webPods) {
      const out = await logsOf([pod], linesOf(pod));
      expect(out).toBe(`${linesOf(pod).join("\n")}\n`);
    }
  });

  test("kubectl logs deploy/web prints the lines of one of its pods", async () => {
    const out = await logsOf(["deploy/web"], []);
    const chosen = webPods.find((p) => out.includes(`${p} starting`));
    expect(chosen).toBeDefined();
    expect(out).toBe(`${linesOf(chosen!).join("\n")}\n`);
  });

  test("kubectl logs -l app=web prints the lines of all its pods", async () => {
    const out = await logsOf(["-l", "app=web", "--prefix"], webPods.flatMap(linesOf));
    for (const pod of webPods) for (const line of linesOf(pod)) expect(out).toContain(`[pod/${pod}/app] ${line}`);
    expect(out).not.toContain("SECRET");
  });

  test("kubectl logs -f <pod> streams lines as they are written", async () => {
    const [pod] = webPods as [string];
    const file = await setPodLog(c.admin, c.dir, ns, pod, linesOf(pod));
    const proc = Bun.spawn([join(c.binDir, "kubectl"), "--kubeconfig", kubeconfig, "logs", "-f", pod], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = proc.stdout.getReader();
    let seen = "";
    const deadline = Date.now() + 30_000;
    try {
      for (let i = 0; Date.now() < deadline && !seen.includes("follow 3"); i++) {
        // Append while reading: each line must arrive on the open stream, not from a new request.
        if (i > 0 && i <= 3) appendFileSync(file, criLogLine(`follow ${i}`));
        const chunk = await Promise.race([reader.read(), Bun.sleep(1000).then(() => undefined)]);
        if (chunk && !chunk.done) seen += new TextDecoder().decode(chunk.value);
        if (chunk?.done) break;
      }
      // Still streaming: a follow request stays open after the last line.
      expect(proc.exitCode).toBeNull();
    } finally {
      proc.kill();
      await proc.exited;
    }
    expect(seen).toContain(`${pod} starting`);
    expect(seen).toContain("follow 1\nfollow 2\nfollow 3\n");
  });

  test("the other Deployment's pod is Forbidden, and none of its lines are printed", async () => {
    const direct = await kubectl(["logs", otherPod], { kubeconfig });
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toContain("Forbidden");
    expect(direct.stdout + direct.stderr).not.toContain("SECRET");

    const bySelector = await kubectl(["logs", "-l", "app=other"], { kubeconfig });
    expect(bySelector.code).not.toBe(0);
    expect(bySelector.stderr).toContain("Forbidden");
    expect(bySelector.stdout + bySelector.stderr).not.toContain("SECRET");

    const byDeployment = await kubectl(["logs", "deploy/other"], { kubeconfig });
    expect(byDeployment.code).not.toBe(0);
    expect(byDeployment.stderr).toContain("Forbidden");
    expect(byDeployment.stdout + byDeployment.stderr).not.toContain("SECRET");
  });

  test("after a rollout the new pods' logs are readable and the old pods' names are no longer granted", async () => {
    const old = webPods;
    await rollout(ns, "web");
    const fresh = await eventually(
      "the rollout to replace both pods",
      async () => {
        const pods = await waitForPods(ns, "web", 2).catch(() => undefined);
        return pods?.every((p) => !old.includes(p)) ? pods : undefined;
      },
      120_000,
    );
    await withLogs(ns, fresh, linesOf);
    await expectReadable(ns, sa, fresh, old);
    for (const pod of fresh) expect(await logsOf([pod], linesOf(pod))).toBe(`${linesOf(pod).join("\n")}\n`);
    for (const pod of old) {
      expect(await canReadLog(c.admin, ns, sa, pod)).toBe(false);
      const r = await kubectl(["logs", pod], { kubeconfig });
      expect(r.code).not.toBe(0);
    }
  });
});

// kubectl, built from source, as a workload's ServiceAccount with a real token, in both pod
// visibility modes: what works and what is refused. The README's table of clients is this file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PodVisibility } from "../../src/access/desired.ts";
import { managedName } from "../../src/access/names.ts";
import { KINDS } from "../../src/access/kinds.ts";
import { Pods } from "../../src/kube/resources.ts";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { setPodLog } from "../../scripts/harness/simulated-nodes.ts";
import { eventually, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { kubectl } from "../support/process.ts";

let c: TestCluster;
beforeAll(async () => {
  c = await testCluster();
});

const lineOf = (pod: string) => `${pod} says hello`;

async function running(namespace: string, pod: string): Promise<void> {
  await eventually(`${pod} to run`, async () => {
    const p = (await c.admin.get(Pods, namespace, pod)) as { status?: { phase?: string } };
    return p.status?.phase === "Running" || undefined;
  });
  await setPodLog(c.admin, c.dir, namespace, pod, [lineOf(pod)]);
}

/** A CronJob and one run of it, made as `kubectl create job --from=cronjob/nightly` makes it. */
async function cronJobWithRun(namespace: string): Promise<{ job: string; pod: string }> {
  const template = {
    metadata: { labels: { app: "nightly", ...OPT_IN } },
    spec: { restartPolicy: "Never", containers: [{ name: "app", image: "registry.invalid/app:1" }] },
  };
  const cron = (await c.admin.create(KINDS.CronJob.resource, namespace, {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "nightly", namespace },
    spec: { schedule: "0 0 1 1 *", suspend: true, jobTemplate: { spec: { template } } },
  } as never)) as { metadata: { uid: string } };
  const job = "nightly-run-1";
  await c.admin.create(KINDS.Job.resource, namespace, {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: job,
      namespace,
      ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "nightly", uid: cron.metadata.uid, controller: true }],
    },
    spec: { template },
  } as never);
  const pod = await eventually(`a pod of Job ${job}`, async () => {
    const { items } = await c.admin.list(Pods, { namespace, labelSelector: `job-name=${job}` });
    return (items[0] as { metadata: { name: string } } | undefined)?.metadata.name;
  });
  return { job, pod };
}

type Outcome = "works" | "refused";

function suite(mode: PodVisibility, expect_: Record<string, Outcome>) {
  describe(`--pod-visibility=${mode}`, () => {
    let ns: string;
    let dir: string;
    let controller: RunningController;
    let web: string;
    let other: string;
    let run: { job: string; pod: string };
    const kubeconfigs: Record<string, string> = {};

    /** Works when it exits 0 and prints what it should; refused when it exits otherwise with Forbidden. */
    async function outcome(as: string, args: string[], shows: string): Promise<Outcome> {
      return eventually(`kubectl ${args.join(" ")}`, async () => {
        const r = await kubectl(args, { kubeconfig: kubeconfigs[as]! });
        if (r.code === 0 && r.stdout.includes(shows)) return "works";
        if (r.code !== 0 && /forbidden/i.test(r.stderr)) return "refused";
        return undefined;
      });
    }

    /** `kubectl logs -f`: the line arrives on the open stream, which is still open afterwards. */
    async function follows(as: string, pod: string): Promise<Outcome> {
      const proc = Bun.spawn([join(c.binDir, "kubectl"), "--kubeconfig", kubeconfigs[as]!, "logs", "-f", pod], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const reader = proc.stdout.getReader();
      let seen = "";
      try {
        for (let i = 0; i < 30 && !seen.includes(lineOf(pod)); i++) {
          const chunk = await Promise.race([reader.read(), Bun.sleep(1000).then(() => undefined)]);
          if (chunk?.done) break;
          if (chunk) seen += new TextDecoder().decode(chunk.value);
        }
        return seen.includes(lineOf(pod)) && proc.exitCode === null ? "works" : "refused";
      } finally {
        proc.kill();
      }
    }

    beforeAll(async () => {
      ns = await useNamespace(`kubectl-${mode}`);
      dir = mkdtempSync(join(tmpdir(), "podlogreader-kubectl-"));
      controller = await startController([ns], { podVisibility: mode });
      await createDeployment(ns, "web", { replicas: 1 });
      await createDeployment(ns, "other", { replicas: 1 });
      run = await cronJobWithRun(ns);
      [web] = (await waitForPods(ns, "web", 1)) as [string];
      [other] = (await waitForPods(ns, "other", 1)) as [string];
      for (const pod of [web, other, run.pod]) await running(ns, pod);
      await expectReadable(ns, managedName("Deployment", "web"), [web]);
      for (const [who, sa] of [
        ["web", managedName("Deployment", "web")],
        ["nightly", managedName("CronJob", "nightly")],
      ] as const) {
        kubeconfigs[who] = join(dir, `${who}.kubeconfig`);
        const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(ns, sa));
        writeFileSync(kubeconfigs[who]!, kubeconfigYaml(c.server, c.caPem, { token }, ns), { mode: 0o600 });
      }
    });
    afterAll(async () => {
      await controller?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("its own pods: logs POD, logs -f POD and get pod POD", async () => {
      expect(await outcome("web", ["logs", web], lineOf(web))).toBe(expect_["logs POD"]!);
      expect(await follows("web", web)).toBe(expect_["logs -f POD"]!);
      expect(await outcome("web", ["get", "pod", web, "-o", "name"], web)).toBe(expect_["get pod POD"]!);
    });

    test("by workload or label: logs deploy/web, logs -l app=web, get pods", async () => {
      expect(await outcome("web", ["logs", "deploy/web"], lineOf(web))).toBe(expect_["logs deploy/NAME"]!);
      expect(await outcome("web", ["logs", "-l", "app=web"], lineOf(web))).toBe(expect_["logs -l SELECTOR"]!);
      expect(await outcome("web", ["get", "pods", "-o", "name"], web)).toBe(expect_["get pods"]!);
    });

    test("a CronJob's ServiceAccount: logs of its run's pod, and logs job/<its run>", async () => {
      expect(await outcome("nightly", ["logs", run.pod], lineOf(run.pod))).toBe(expect_["logs POD"]!);
      expect(await outcome("nightly", ["logs", `job/${run.job}`], lineOf(run.pod))).toBe(expect_["logs job/NAME"]!);
    });

    test("another workload's pod is refused by every command, and none of its lines is printed", async () => {
      for (const args of [
        ["logs", other],
        ["logs", "-f", other],
        ["logs", "deploy/other"],
        ["logs", "-l", "app=other"],
      ]) {
        const r = await kubectl(args, { kubeconfig: kubeconfigs.web! });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/forbidden/i);
        expect(r.stdout).not.toContain(lineOf(other));
      }
    });
  });
}

suite("own", {
  "logs POD": "works",
  "logs -f POD": "works",
  "get pod POD": "works",
  "logs deploy/NAME": "refused",
  "logs -l SELECTOR": "refused",
  "get pods": "refused",
  "logs job/NAME": "refused",
});
suite("namespace", {
  "logs POD": "works",
  "logs -f POD": "works",
  "get pod POD": "works",
  "logs deploy/NAME": "works",
  "logs -l SELECTOR": "works",
  "get pods": "works",
  "logs job/NAME": "works",
});

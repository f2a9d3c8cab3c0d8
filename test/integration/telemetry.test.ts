// The compiled controller's /metrics, /healthz and /readyz against the real apiserver: every
// agreed metric is there with its labels and moves when work happens; leader and standby report
// their status; and while the apiserver cannot be reached, liveness holds and the watch-failing
// gauge says what is wrong.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/harness/net.ts";
import { eventually, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startConnectProxy, type ConnectProxy } from "../support/connect-proxy.ts";
import { parseSamples, RETIRED_METRICS, samplesOf, sampleValue, type Sample } from "../support/prometheus.ts";
import { createDeployment, expectReadable, scale, waitForPods } from "../support/workloads.ts";
import { BINARY } from "../support/process.ts";

interface Running {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  log: string[];
  metrics: string;
  probes: string;
  stop(): Promise<void>;
}

/** Runs the binary with `args`, its metrics and probes on loopback ports of its own. */
async function run(args: string[], addresses?: { combined: true }): Promise<Running> {
  const [metricsPort, probePort] = [await freePort(), await freePort()];
  const serve = addresses?.combined
    ? [`--http-addr=127.0.0.1:${metricsPort}`]
    : [`--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${probePort}`];
  const proc = Bun.spawn([BINARY, ...serve, "--log-format=json", "--create-sa-and-rolebinding", "--debounce=0", ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "" },
  });
  const log: string[] = [];
  void (async () => {
    for await (const chunk of proc.stderr) log.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
  })();
  const running: Running = {
    proc,
    log,
    metrics: `http://127.0.0.1:${metricsPort}`,
    probes: `http://127.0.0.1:${addresses?.combined ? metricsPort : probePort}`,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
  await eventually("/readyz", async () => {
    if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}:\n${log.join("\n")}`);
    return (await fetch(`${running.probes}/readyz`)).ok || undefined;
  });
  return running;
}

async function scrape(r: Running): Promise<Sample[]> {
  const response = await fetch(`${r.metrics}/metrics`);
  expect(response.status).toBe(200);
  return parseSamples(await response.text());
}

const total = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samplesOf(samples, name, labels).reduce((n, s) => n + s.value, 0);

/** The admin kubeconfig, with its connections sent through `proxy`. */
function kubeconfigVia(c: TestCluster, proxy?: ConnectProxy): string {
  const file = join(c.dir, `telemetry-${process.pid}-${proxy ? "proxied" : "direct"}.kubeconfig`);
  const text = readFileSync(c.kubeconfig, "utf8");
  writeFileSync(file, proxy ? text.replace(/^(\s+)server: (.*)$/m, `$1server: $2\n$1proxy-url: ${proxy.url}`) : text, { mode: 0o600 });
  return file;
}

let c: TestCluster;
const running: Running[] = [];
beforeAll(async () => {
  c = await testCluster();
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
});

describe("with leader election, two replicas", () => {
  let ns: string;
  let leader: Running;
  let standby: Running;

  beforeAll(async () => {
    ns = await useNamespace("telemetry");
    const common = [
      "--kubeconfig",
      kubeconfigVia(c),
      `--namespace=${ns}`,
      "--leader-elect",
      `--leader-election-namespace=${ns}`,
      "--leader-election-id=telemetry",
    ];
    leader = await run(common);
    running.push(leader);
    await eventually(
      "the first replica to lead",
      async () => sampleValue(await scrape(leader), "leader_election_master_status", { name: "telemetry" }) === 1 || undefined,
    );
    // The standby serves everything on one address through the deprecated flag.
    standby = await run(common, { combined: true });
    running.push(standby);
  });

  test("every agreed metric is served with its labels, and counters move when a Role is written", async () => {
    const before = await scrape(leader);
    const host = new URL(c.server).host;
    const created = (s: Sample[]) => total(s, "rest_client_requests_total", { code: "201", method: "POST", host });
    const successes = (s: Sample[]) =>
      sampleValue(s, "controller_runtime_reconcile_total", { controller: "podlogreader", result: "success" });

    await createDeployment(ns, "web", { replicas: 1 });
    await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 1));
    const after = await eventually("the reconcile to be counted", async () => {
      const s = await scrape(leader);
      return successes(s) > successes(before) ? s : undefined;
    });
    expect(created(after)).toBeGreaterThan(created(before));
    expect(total(after, "podlogreader_object_writes_total", { kind: "Role", operation: "create" })).toBeGreaterThanOrEqual(1);
    expect(total(after, "workqueue_adds_total", { name: "podlogreader" })).toBeGreaterThan(
      total(before, "workqueue_adds_total", { name: "podlogreader" }),
    );

    const controller = { controller: "podlogreader" };
    const queue = { name: "podlogreader" };
    const present: [string, Record<string, string>][] = [
      ["controller_runtime_reconcile_total", { ...controller, result: "success" }],
      ["controller_runtime_reconcile_total", { ...controller, result: "error" }],
      ["controller_runtime_reconcile_total", { ...controller, result: "requeue" }],
      ["controller_runtime_reconcile_total", { ...controller, result: "requeue_after" }],
      ["controller_runtime_reconcile_errors_total", controller],
      ["controller_runtime_reconcile_time_seconds_count", controller],
      ["controller_runtime_active_workers", controller],
      ["controller_runtime_max_concurrent_reconciles", controller],
      ["workqueue_depth", queue],
      ["workqueue_adds_total", queue],
      ["workqueue_queue_duration_seconds_count", queue],
      ["workqueue_work_duration_seconds_count", queue],
      ["workqueue_retries_total", queue],
      ["workqueue_unfinished_work_seconds", queue],
      ["workqueue_longest_running_processor_seconds", queue],
      ["rest_client_requests_total", { code: "200", method: "GET", host }],
      ["leader_election_master_status", { name: "telemetry" }],
      ["process_cpu_seconds_total", {}],
      ["process_resident_memory_bytes", {}],
      ["process_start_time_seconds", {}],
      ["podlogreader_build_info", { version: (await Bun.file(resolve(import.meta.dir, "../../package.json")).json()).version }],
      ["podlogreader_object_writes_total", { kind: "Role", operation: "create" }],
      ["podlogreader_watch_failing", { resource: "pods" }],
      ["podlogreader_watch_failing", { resource: "deployments" }],
      ["podlogreader_managed_workloads", {}],
      ["podlogreader_tracked_pods", {}],
    ];
    for (const [name, labels] of present) expect(`${name} ${samplesOf(after, name, labels).length > 0}`).toBe(`${name} true`);
    expect(sampleValue(after, "controller_runtime_max_concurrent_reconciles", controller)).toBe(4); // the default of --workers
    expect(sampleValue(after, "podlogreader_build_info", {})).toBe(1);
    expect(samplesOf(after, "podlogreader_build_info")[0]!.labels.revision).toMatch(/^([0-9a-f]{40}|unknown)$/);
    expect(sampleValue(after, "podlogreader_managed_workloads")).toBe(1);
    expect(sampleValue(after, "podlogreader_tracked_pods")).toBe(1);
    for (const gone of RETIRED_METRICS) expect(samplesOf(after, gone)).toHaveLength(0);
  });

  test("the leader reports 1 and the standby 0; the standby is ready with synced caches", async () => {
    expect(sampleValue(await scrape(leader), "leader_election_master_status", { name: "telemetry" })).toBe(1);
    const s = await scrape(standby);
    expect(sampleValue(s, "leader_election_master_status", { name: "telemetry" })).toBe(0);
    expect(sampleValue(s, "controller_runtime_reconcile_total", { controller: "podlogreader", result: "success" })).toBe(0);
    const ready = await fetch(`${standby.probes}/readyz?verbose`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain("[+]informer-sync ok");
  });

  test("the deprecated --http-addr serves all three paths on one address and says it is deprecated", async () => {
    expect((await fetch(`${standby.probes}/healthz`)).status).toBe(200);
    expect((await fetch(`${standby.probes}/metrics`)).status).toBe(200);
    const warning = standby.log
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .find((l) => l.msg.startsWith("--http-addr is deprecated"));
    expect(warning?.level).toBe("warn");
  });
});

describe("while the apiserver cannot be reached", () => {
  let ns: string;
  let proxy: ConnectProxy;
  let controller: Running;

  beforeAll(async () => {
    ns = await useNamespace("outage");
    proxy = await startConnectProxy();
    controller = await run(["--kubeconfig", kubeconfigVia(c, proxy), `--namespace=${ns}`]);
    running.push(controller);
    await createDeployment(ns, "web", { replicas: 1 });
    await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 1));
  });
  afterAll(() => proxy.close());

  test(
    "/healthz stays 200 while podlogreader_watch_failing goes " + "to 1, and back to 0 after; the controller then follows changes",
    async () => {
      const failing = async () => samplesOf(await scrape(controller), "podlogreader_watch_failing");
      expect((await failing()).map((s) => s.value)).not.toContain(1);
      const liveness: number[] = [];
      const probe = async () => liveness.push((await fetch(`${controller.probes}/healthz`)).status);

      proxy.setCut(true);
      await eventually(
        "every watch to be failing",
        async () => {
          await probe();
          const s = await failing();
          return (s.length > 0 && s.every((x) => x.value === 1)) || undefined;
        },
        120_000,
        250,
      );
      // A while longer: the watches go on retrying with backoff, and liveness is asked again.
      for (let i = 0; i < 10; i++) {
        await probe();
        await Bun.sleep(250);
      }
      expect(liveness.length).toBeGreaterThanOrEqual(10);
      expect(new Set(liveness)).toEqual(new Set([200]));
      const verbose = await (await fetch(`${controller.probes}/healthz?verbose`)).text();
      expect(verbose).toContain("[+]workqueue ok");
      const logged = controller.log
        .map((l) => JSON.parse(l) as { level: string; msg: string; resource?: string })
        .filter((l) => l.msg.startsWith("Watch of"));
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.every((l) => l.level === "warn" && typeof l.resource === "string")).toBe(true);

      proxy.setCut(false);
      await eventually("every watch to work again", async () => (await failing()).every((x) => x.value === 0) || undefined, 120_000, 250);
      await scale(ns, "web", 2);
      await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 2));
      expect((await fetch(`${controller.probes}/healthz`)).status).toBe(200);
    },
  );
});

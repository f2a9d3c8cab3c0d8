// Metrics under controller-runtime's names and meaning, driven through the real work queue, and
// the liveness and readiness checks behind /healthz and /readyz.
import { describe, expect, test } from "bun:test";
import { WorkQueue } from "../../../src/workqueue/queue.ts";
import {
  cachesSynced,
  controllerChecks,
  notShuttingDown,
  ping,
  runChecks,
  workers,
  WORKER_STALL_MS,
} from "../../../src/telemetry/health.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { RECONCILE_BUCKETS } from "../../../src/telemetry/reconcile.ts";
import { probeRoutes, serveHttp } from "../../../src/telemetry/server.ts";
import { WORKQUEUE_BUCKETS } from "../../../src/telemetry/workqueue.ts";
import { createLogger } from "../../../src/log.ts";
import { parseSamples, RETIRED_METRICS, samplesOf, sampleValue } from "../../support/prometheus.ts";
import { until } from "../../support/wait.ts";

const quiet = createLogger("error", "text");

/** A Metrics with the controller's part tracked, fed by a real work queue. */
function instrumented(process: (key: string) => Promise<void>, concurrency = 2) {
  const metrics = new Metrics({ version: "1.2.3", revision: "abc" });
  let queue!: WorkQueue;
  const t = metrics.track({
    queueDepth: () => queue.depth,
    maxConcurrentReconciles: () => concurrency,
    managedWorkloads: () => 0,
    trackedPods: () => 0,
    watchFailing: () =>
      new Map([
        ["pods", true],
        ["roles", false],
      ]),
  });
  queue = new WorkQueue({
    concurrency,
    retryBaseMs: 5,
    retryMaxMs: 10,
    process: (key) => t.reconcile.track(() => process(key)),
    onError() {},
    observer: t.workqueue,
  });
  return { metrics, queue, scrape: async () => parseSamples(await metrics.registry.metrics()) };
}

describe("metrics", () => {
  test("a failed reconcile is result=error and an error, and its backoff a retry; its rerun is a success", async () => {
    let runs = 0;
    const { queue, scrape } = instrumented(async () => {
      if (++runs === 1) throw new Error("refused");
    });
    queue.add("Deployment/ns/web");
    await until(() => runs === 2);
    await queue.idle();
    const s = await scrape();
    const controller = { controller: "podlogreader" };
    expect(sampleValue(s, "controller_runtime_reconcile_total", { ...controller, result: "error" })).toBe(1);
    expect(sampleValue(s, "controller_runtime_reconcile_total", { ...controller, result: "success" })).toBe(1);
    expect(sampleValue(s, "controller_runtime_reconcile_total", { ...controller, result: "requeue" })).toBe(0);
    expect(sampleValue(s, "controller_runtime_reconcile_total", { ...controller, result: "requeue_after" })).toBe(0);
    expect(sampleValue(s, "controller_runtime_reconcile_errors_total", controller)).toBe(1);
    expect(sampleValue(s, "controller_runtime_reconcile_time_seconds_count", controller)).toBe(2);
    expect(sampleValue(s, "controller_runtime_active_workers", controller)).toBe(0);
    expect(sampleValue(s, "controller_runtime_max_concurrent_reconciles", controller)).toBe(2);
    const name = { name: "podlogreader", controller: "podlogreader" };
    expect(sampleValue(s, "workqueue_retries_total", name)).toBe(1);
    // client-go counts an add when the key becomes ready: the first add and the retry's.
    expect(sampleValue(s, "workqueue_adds_total", name)).toBe(2);
    expect(sampleValue(s, "workqueue_depth", name)).toBe(0);
    expect(sampleValue(s, "workqueue_queue_duration_seconds_count", name)).toBe(2);
    expect(sampleValue(s, "workqueue_work_duration_seconds_count", name)).toBe(2);
    expect(sampleValue(s, "workqueue_unfinished_work_seconds", name)).toBe(0);
    expect(sampleValue(s, "workqueue_longest_running_processor_seconds", name)).toBe(0);
    await queue.shutdown();
  });

  test("histograms have controller-runtime's and client-go's buckets", async () => {
    const { queue, scrape } = instrumented(async () => {});
    queue.add("Deployment/ns/web");
    await until(() => queue.progress().running === 0 && queue.depth === 0);
    await queue.idle();
    const s = await scrape();
    const les = (metric: string) =>
      samplesOf(s, `${metric}_bucket`)
        .map((b) => b.labels.le)
        .filter((le) => le !== "+Inf")
        .map(Number);
    expect(les("controller_runtime_reconcile_time_seconds")).toEqual(RECONCILE_BUCKETS);
    expect(RECONCILE_BUCKETS).toHaveLength(40);
    expect(les("workqueue_queue_duration_seconds")).toEqual(WORKQUEUE_BUCKETS);
    expect(les("workqueue_work_duration_seconds")).toEqual(WORKQUEUE_BUCKETS);
    expect(WORKQUEUE_BUCKETS[0]).toBeCloseTo(1e-8, 20);
    expect(WORKQUEUE_BUCKETS).toHaveLength(12);
  });

  test("a reconcile in progress shows as unfinished work and an active worker", async () => {
    let release!: () => void;
    const { queue, scrape } = instrumented(() => new Promise<void>((resolve) => (release = resolve)));
    queue.add("Deployment/ns/slow");
    await until(() => release !== undefined);
    await Bun.sleep(20);
    const s = await scrape();
    expect(sampleValue(s, "controller_runtime_active_workers", { controller: "podlogreader" })).toBe(1);
    expect(sampleValue(s, "workqueue_unfinished_work_seconds", { name: "podlogreader" })).toBeGreaterThan(0);
    expect(sampleValue(s, "workqueue_longest_running_processor_seconds", { name: "podlogreader" })).toBeGreaterThan(0);
    release();
    await queue.shutdown();
  });

  test("build info, watch failing per resource, unprefixed process metrics, and _total only on counters", async () => {
    const { metrics, scrape } = instrumented(async () => {});
    const s = await scrape();
    expect(sampleValue(s, "podlogreader_build_info", { version: "1.2.3", revision: "abc" })).toBe(1);
    expect(sampleValue(s, "podlogreader_watch_failing", { resource: "pods" })).toBe(1);
    expect(sampleValue(s, "podlogreader_watch_failing", { resource: "roles" })).toBe(0);
    expect(samplesOf(s, "process_cpu_seconds_total")).toHaveLength(1);
    expect(samplesOf(s, "process_resident_memory_bytes")).toHaveLength(1);
    expect(s.some((x) => x.name.startsWith("podlogreader_process_"))).toBe(false);
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      // A counter ends in _total, and only a counter does.
      expect(`${m.name} ${m.name.endsWith("_total")}`).toBe(`${m.name} ${String(m.type) === "counter"}`);
    }
    for (const gone of RETIRED_METRICS) expect(samplesOf(s, gone)).toHaveLength(0);
  });

  test("requests are counted as client-go counts them: status code or <error>, HTTP method, host", async () => {
    const metrics = new Metrics();
    metrics.countRequest("POST", "201", "127.0.0.1:6443");
    metrics.countRequest("GET", "<error>", "127.0.0.1:6443");
    const s = parseSamples(await metrics.registry.metrics());
    expect(sampleValue(s, "rest_client_requests_total", { code: "201", method: "POST", host: "127.0.0.1:6443" })).toBe(1);
    expect(sampleValue(s, "rest_client_requests_total", { code: "<error>", method: "GET", host: "127.0.0.1:6443" })).toBe(1);
  });
});

describe("liveness", () => {
  test("a wedged worker fails liveness once keys wait and no worker has moved for the stall limit", async () => {
    const queue = new WorkQueue({ concurrency: 1, process: () => new Promise<void>(() => {}), onError() {} });
    queue.add("Deployment/ns/wedged");
    queue.add("Deployment/ns/next");
    const later = Date.now() + WORKER_STALL_MS + 1000;
    const soon = Date.now() + 1000;
    expect(await runChecks([workers(() => queue.progress(soon), WORKER_STALL_MS)], "healthz", false)).toEqual({ ok: true, body: "ok" });
    const report = await runChecks([ping, workers(() => queue.progress(later), WORKER_STALL_MS)], "healthz", false);
    expect(report.ok).toBe(false);
    expect(report.body).toContain("[+]ping ok");
    expect(report.body).toMatch(/\[-\]workqueue failed: a reconcile has been running for \d+s/);
    expect(report.body).toEndWith("healthz check failed");
  });

  test("all workers busy and making progress is alive; a paused queue (standby) is alive", async () => {
    const paused = new WorkQueue({ startPaused: true, concurrency: 1, process: async () => {}, onError() {} });
    paused.add("Deployment/ns/a");
    const later = Date.now() + 10 * WORKER_STALL_MS;
    expect(paused.progress(later)).toEqual({ waiting: 0, running: 0, sinceProgressMs: 0, longestRunningMs: 0 });
    expect((await runChecks([workers(() => paused.progress(later), WORKER_STALL_MS)], "healthz", false)).ok).toBe(true);
    expect(
      (
        await runChecks(
          [workers(() => ({ waiting: 5, running: 16, sinceProgressMs: 10, longestRunningMs: 10 }), WORKER_STALL_MS)],
          "healthz",
          false,
        )
      ).ok,
    ).toBe(true);
    expect(
      (
        await runChecks(
          [workers(() => ({ waiting: 5, running: 16, sinceProgressMs: WORKER_STALL_MS + 1, longestRunningMs: 10 }), WORKER_STALL_MS)],
          "healthz",
          false,
        )
      ).body,
    ).toContain("5 key(s) waiting and 16 running, but no worker took or finished one");
  });

  test("the controller's checks: liveness does not look at watches, readiness at synced caches and shutdown", async () => {
    let synced = false;
    const shutdown = new AbortController();
    const checks = controllerChecks(
      {
        get ready() {
          return synced;
        },
        workerProgress: () => ({ waiting: 0, running: 0, sinceProgressMs: 0, longestRunningMs: 0 }),
      },
      shutdown.signal,
    );
    expect(checks.liveness.map((c) => c.name)).toEqual(["ping", "event-loop", "workqueue"]);
    expect(checks.readiness.map((c) => c.name)).toEqual(["ping", "informer-sync", "shutdown"]);
    expect((await runChecks(checks.liveness, "healthz", false)).ok).toBe(true);
    expect((await runChecks(checks.readiness, "readyz", false)).body).toContain("[-]informer-sync failed");
    synced = true;
    expect(await runChecks(checks.readiness, "readyz", false)).toEqual({ ok: true, body: "ok" });
    shutdown.abort();
    expect((await runChecks(checks.readiness, "readyz", false)).body).toContain("[-]shutdown failed: shutting down");
  });
});

describe("/healthz and /readyz over HTTP", () => {
  test("ok, ?verbose lists the checks, a failure is 500 with the list, /readyz/NAME runs one check, ?exclude skips one", async () => {
    let synced = false;
    const server = serveHttp(
      "probes",
      { host: "127.0.0.1", port: 0 },
      probeRoutes({
        liveness: [ping],
        readiness: [ping, cachesSynced(() => synced), notShuttingDown(new AbortController().signal)],
      }),
      quiet,
    );
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${server.port}${path}`);
      return [r.status, await r.text()] as const;
    };
    try {
      expect(await get("/healthz")).toEqual([200, "ok\n"]);
      expect(await get("/healthz?verbose")).toEqual([200, "[+]ping ok\nhealthz check passed\n"]);
      expect(await get("/readyz")).toEqual([
        500,
        "[+]ping ok\n[-]informer-sync failed: the initial list of every watched resource is not done yet\n[+]shutdown ok\nreadyz " +
          "check failed\n",
      ]);
      expect(await get("/readyz/ping")).toEqual([200, "ok\n"]);
      expect((await get("/readyz?exclude=informer-sync"))[0]).toBe(200);
      synced = true;
      expect(await get("/readyz")).toEqual([200, "ok\n"]);
      expect((await get("/metrics"))[0]).toBe(404);
    } finally {
      await server.stop();
    }
  });

  test("an address in use is a clear error naming it", async () => {
    const first = serveHttp("probes", { host: "127.0.0.1", port: 0 }, probeRoutes({ liveness: [ping], readiness: [ping] }), quiet);
    try {
      expect(() => serveHttp("metrics", { host: "127.0.0.1", port: first.port }, {}, quiet)).toThrow(
        `cannot serve metrics on 127.0.0.1:${first.port}`,
      );
    } finally {
      await first.stop();
    }
  });
});

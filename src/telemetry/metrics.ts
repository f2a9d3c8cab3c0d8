import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The controller's Prometheus metrics, on a registry of their own. */
export class Metrics {
  readonly registry = new Registry();

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]) {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  readonly reconciles = this.counter("podlogreader_reconciles_total", "Reconciles of one workload, by result (success; conflict: a same-named object podlogreader did not create; refused: the apiserver refused the Role's update; error).", ["result"]);
  readonly reconcileDuration = new Histogram({
    name: "podlogreader_reconcile_duration_seconds",
    help: "How long reconciling one workload took, including its API writes.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly writes = this.counter("podlogreader_object_writes_total", "Objects podlogreader created, updated or deleted, by kind and operation.", ["kind", "operation"]);
  readonly roleWritesRefused = this.counter("podlogreader_role_writes_refused_total", "Role updates the apiserver refused (admission, quota, size); each one is followed by a write that only removes names, or by deleting the Role.", ["namespace"]);
  readonly watchRestarts = this.counter("podlogreader_watch_restarts_total", "Watches that ended in an error or expired (410 Gone) and were started again, by resource.", ["resource"]);
  readonly apiRequests = this.counter("podlogreader_api_requests_total", "Requests sent to the Kubernetes API, by verb and HTTP status code (\"error\" when no answer came).", ["verb", "code"]);
  readonly podsLeftOut = new Gauge({
    name: "podlogreader_pods_left_out",
    help: "Pods of a workload that do not fit in its Role and whose logs are therefore not granted.",
    labelNames: ["namespace", "workload"] as const,
    registers: [this.registry],
  });

  constructor() {
    // The event-loop delay monitor samples on a timer of this period (default 10 ms): at 100 Hz it
    // was most of an idle controller's CPU. Every other default metric is read on scrape.
    collectDefaultMetrics({ register: this.registry, prefix: "podlogreader_", eventLoopMonitoringPrecision: 1000 });
  }

  /** Gauges read when scraped. */
  track(gauges: { queueDepth: () => number; managedWorkloads: () => number; trackedPods: () => number }): void {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge("podlogreader_queue_depth", "Workloads waiting to be reconciled.", gauges.queueDepth);
    gauge("podlogreader_managed_workloads", "Opted-in workloads podlogreader keeps a Role for.", gauges.managedWorkloads);
    gauge("podlogreader_tracked_pods", "Opted-in pods held in memory.", gauges.trackedPods);
  }
}

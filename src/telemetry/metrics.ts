import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The controller's Prometheus metrics, on a registry of their own. */
export class Metrics {
  readonly registry = new Registry();

  readonly reconciles = new Counter({
    name: "podlogreader_reconciles_total",
    help: "Reconciles of one workload, by result (success; conflict: a same-named object podlogreader did not create; refused: the apiserver refused the Role's update; error).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: "podlogreader_reconcile_duration_seconds",
    help: "How long reconciling one workload took, including its API writes.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly writes = new Counter({
    name: "podlogreader_object_writes_total",
    help: "Objects podlogreader created, updated or deleted, by kind and operation.",
    labelNames: ["kind", "operation"] as const,
    registers: [this.registry],
  });

  readonly roleWritesRefused = new Counter({
    name: "podlogreader_role_writes_refused_total",
    help: "Role updates the apiserver refused (admission, quota, size); each one is followed by a write that only removes names, or by deleting the Role.",
    labelNames: ["namespace"] as const,
    registers: [this.registry],
  });

  readonly podsLeftOut = new Gauge({
    name: "podlogreader_pods_left_out",
    help: "Pods of a workload that do not fit in its Role and whose logs are therefore not granted.",
    labelNames: ["namespace", "workload"] as const,
    registers: [this.registry],
  });

  readonly watchRestarts = new Counter({
    name: "podlogreader_watch_restarts_total",
    help: "Watches that ended in an error or expired (410 Gone) and were started again, by resource.",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });

  readonly apiRequests = new Counter({
    name: "podlogreader_api_requests_total",
    help: "Requests sent to the Kubernetes API, by verb and HTTP status code (\"error\" when no answer came).",
    labelNames: ["verb", "code"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "podlogreader_" });
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

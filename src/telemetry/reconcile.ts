// Reconcile metrics under controller-runtime's names (controller_runtime_*), with its meaning:
// a reconcile that throws is result="error" and counts in reconcile_errors_total, whatever the
// cause (a name conflict and a refused Role write included; they have counters of their own), and
// the queue then retries it with backoff (workqueue_retries_total). podlogreader never asks for a
// requeue without an error, so "requeue" and "requeue_after" stay at 0; they are there, as in
// controller-runtime, so that dashboards find every result.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** controller-runtime's buckets for controller_runtime_reconcile_time_seconds. */
export const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5,
  4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

export const RECONCILE_RESULTS = ["success", "error", "requeue", "requeue_after"] as const;

export class ReconcileMetrics {
  private readonly labels: { controller: string };
  private readonly total: Counter<"controller" | "result">;
  private readonly errors: Counter<"controller">;
  private readonly time: Histogram<"controller">;
  private readonly active: Gauge<"controller">;

  constructor(registry: Registry, controller: string, maxConcurrent: () => number) {
    this.labels = { controller };
    const registers = [registry];
    this.total = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers,
    });
    this.errors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.time = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.active = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
    });
    const labels = this.labels;
    new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
      collect() {
        this.set(labels, maxConcurrent());
      },
    });
    for (const result of RECONCILE_RESULTS) this.total.inc({ controller, result }, 0);
    this.errors.inc(labels, 0);
    this.active.set(labels, 0);
  }

  /** Runs one reconcile and counts it; rethrows its error for the queue to retry. */
  async track(reconcile: () => Promise<void>): Promise<void> {
    this.active.inc(this.labels);
    const stop = this.time.startTimer(this.labels);
    try {
      await reconcile();
      this.total.inc({ ...this.labels, result: "success" });
    } catch (err) {
      this.total.inc({ ...this.labels, result: "error" });
      this.errors.inc(this.labels);
      throw err;
    } finally {
      stop();
      this.active.dec(this.labels);
    }
  }
}

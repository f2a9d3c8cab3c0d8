// The work queue's metrics under client-go's names (workqueue_*), as controller-runtime registers
// them: labelled with the queue's name and the controller's. The queue reports adds, starts, ends
// and retries; depth and the running time of unfinished work are read when scraped, so nothing
// ticks while the controller is idle (client-go updates them every 500 ms instead).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { QueueObserver } from "../workqueue/queue.ts";

/** client-go's buckets for queue and work durations: 10ns to 1000s, in powers of ten. */
export const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

export class WorkQueueMetrics implements QueueObserver {
  private readonly labels: { name: string; controller: string };
  /** When each key became ready, until a worker takes it. */
  private readonly addedAt = new Map<string, number>();
  /** When each running key was taken. */
  private readonly startedAt = new Map<string, number>();
  private readonly adds: Counter<"name" | "controller">;
  private readonly retries: Counter<"name" | "controller">;
  private readonly queueDuration: Histogram<"name" | "controller">;
  private readonly workDuration: Histogram<"name" | "controller">;

  constructor(
    registry: Registry,
    name: string,
    depth: () => number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.labels = { name, controller: name };
    const labelNames = ["name", "controller"] as const;
    const registers = [registry];
    this.adds = new Counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames, registers });
    this.retries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames,
      registers,
    });
    this.queueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames,
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    this.workDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames,
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    const labels = this.labels;
    const self = this;
    new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames,
      registers,
      collect() {
        this.set(labels, depth());
      },
    });
    new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help:
        "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate " +
        "stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames,
      registers,
      collect() {
        this.set(labels, self.runningSeconds().total);
      },
    });
    new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running.",
      labelNames,
      registers,
      collect() {
        this.set(labels, self.runningSeconds().longest);
      },
    });
    // Present from the start, as client-go's are, so a rate over them works before the first add.
    for (const counter of [this.adds, this.retries]) counter.inc(labels, 0);
  }

  private runningSeconds(): { total: number; longest: number } {
    const now = this.now();
    let total = 0;
    let longest = 0;
    for (const at of this.startedAt.values()) {
      total += now - at;
      longest = Math.max(longest, now - at);
    }
    return { total: total / 1000, longest: longest / 1000 };
  }

  added(key: string): void {
    this.adds.inc(this.labels);
    if (!this.addedAt.has(key)) this.addedAt.set(key, this.now());
  }

  started(key: string): void {
    const now = this.now();
    const added = this.addedAt.get(key);
    if (added !== undefined) this.queueDuration.observe(this.labels, (now - added) / 1000);
    this.addedAt.delete(key);
    this.startedAt.set(key, now);
  }

  finished(key: string): void {
    const started = this.startedAt.get(key);
    if (started !== undefined) this.workDuration.observe(this.labels, (this.now() - started) / 1000);
    this.startedAt.delete(key);
  }

  retried(): void {
    this.retries.inc(this.labels);
  }

  /** Forgets keys dropped at shutdown without being run. */
  dropped(key: string): void {
    this.addedAt.delete(key);
  }
}

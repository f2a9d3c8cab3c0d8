// Wires the watches to the work queue and the queue to the reconciler. Every event is reduced, by
// src/access/routing.ts, to "which workloads, and how soon"; the reconciler does the rest.
//   watch event -> routing -> workload key -> work queue (debounce) -> reconcile -> write
import type { AccessOptions } from "../access/desired.ts";
import { World } from "../access/membership.ts";
import {
  applyManagedEvent,
  applyPodEvent,
  applyServiceAccountEvent,
  applyWorkloadEvent,
  resyncKeys,
  type Touched,
} from "../access/routing.ts";
import type { View } from "../authorizer/decide.ts";
import type { KubeApi } from "../kube/api.ts";
import type { Logger } from "../log.ts";
import type { WorkerProgress } from "../telemetry/health.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { EventRecorder } from "./events.ts";
import { GrantEnding } from "./grant-ending.ts";
import { GrantExpiry, grantWatch } from "./grant-expiry.ts";
import { reportFailure } from "./failures.ts";
import { garbageCollectorHint } from "./housekeeping.ts";
import { WorkQueue } from "../workqueue/queue.ts";
import { Reconciler } from "./reconciler.ts";
import { openWatches, type Watches } from "./watches.ts";

export interface ControllerOptions extends AccessOptions {
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  /**
   * Pod arrivals that follow a write of arrivals within this window are gathered into the next write; a lone arrival is written at once.
   */
  debounceMs: number;
  /** How often every workload is checked again, even without events. */
  resyncMs: number;
  workers: number;
}

/**
 * How long a workload that opted in before it had pods waits for them before its first Role, which
 * names none, is written. Its first pod ends the wait, so that the Role is born naming it; a
 * workload that stays empty (scaled to 0, a CronJob between runs) gets its Role when the wait ends.
 */
export function firstPodsWaitMs(debounceMs: number): number {
  return Math.min(20 * debounceMs, 5000);
}

export class Controller {
  private readonly world = new World();
  private readonly watches: Watches;
  private readonly queue: WorkQueue;
  /** Grants (podlogreader grant) are deleted when they expire; their watch does not gate readiness. */
  private readonly grants: ReturnType<typeof grantWatch>;
  private readonly grantExpiry: GrantExpiry;

  constructor(
    api: KubeApi,
    private readonly options: ControllerOptions,
    private readonly log: Logger,
    metrics?: Metrics,
  ) {
    this.watches = openWatches(
      api,
      { namespaces: options.namespaces, withServiceAccounts: options.createServiceAccountAndRoleBinding },
      {
        workload: (old, current) => this.enqueue(applyWorkloadEvent(this.world, old, current)),
        pod: (old, current) => this.enqueue(applyPodEvent(this.world, old, current)),
        managed: (obj) => {
          this.grantExpiry.roleChanged(obj.metadata.namespace, obj.metadata.name);
          this.enqueue(applyManagedEvent(obj));
        },
        serviceAccount: (old, current) => this.enqueue(applyServiceAccountEvent(this.world, old, current)),
      },
      log,
      metrics,
    );
    const { roles, roleBindings, serviceAccounts } = this.watches;
    const events = new EventRecorder(api, log);
    this.grants = grantWatch(api, options.namespaces, (o, c) => this.grantExpiry.onChange(o, c), log, metrics);
    const grantEnding = new GrantEnding({ api, world: this.world, events, log, metrics });
    this.grantExpiry = new GrantExpiry({
      ending: grantEnding,
      grants: this.grants,
      roleUid: (ns, name) => roles.get(ns, name)?.metadata.uid,
      world: this.world,
      events,
      log,
      metrics,
    });
    const caches = { world: this.world, roles, roleBindings, serviceAccounts };
    const reconciler = new Reconciler(api, caches, options, events, log, metrics, grantEnding);
    const telemetry = metrics?.track({
      queueDepth: () => this.queue.depth,
      maxConcurrentReconciles: () => options.workers,
      managedWorkloads: () => [...this.world.managedWorkloads()].length,
      trackedPods: () => this.watches.pods.size,
      watchFailing: () => new Map([...this.watches.byResource].map(([resource, g]) => [resource, g.failingForMs() > 0])),
    });
    // Nothing is reconciled before every cache has synced: a half-filled cache would make present
    // workloads look gone and present pods look absent.
    this.queue = new WorkQueue({
      startPaused: true,
      concurrency: options.workers,
      onIdle: garbageCollectorHint(),
      process: (key) => (telemetry ? telemetry.reconcile.track(() => reconciler.reconcile(key)) : reconciler.reconcile(key)),
      onError: reportFailure(this.world, events, log),
      observer: telemetry?.workqueue,
    });
  }

  /** Every watch has listed once. */
  get ready(): boolean {
    return this.watches.all.every((g) => g.hasSynced);
  }

  /** What the webhook authorizer decides from: workloads and pods, and the bindings podlogreader keeps or issued. */
  authorizerView(): View {
    const { roleBindings } = this.watches;
    const grants = this.grants;
    return {
      world: this.world,
      bindings: (namespace) =>
        [roleBindings, grants].flatMap((cache) => [...(cache?.values() ?? [])].filter((b) => b.metadata.namespace === namespace)),
    };
  }

  /** Whether the reconcile workers move (for liveness). */
  workerProgress(): WorkerProgress {
    return this.queue.progress();
  }

  /**
   * Runs until `signal` aborts, then lets in-flight writes finish. The watches start at once; no
   * write is made before `leadership` resolves (leader election), so a standby has warm caches.
   */
  async run(signal: AbortSignal, leadership: Promise<void> = Promise.resolve()): Promise<void> {
    const watching = new AbortController();
    const running = [...this.watches.all, this.grants].flatMap((g) => g.run(watching.signal));
    const scope = this.options.namespaces.length ? `namespaces ${this.options.namespaces.join(", ")}` : "all namespaces";
    this.log.info(`Watching ${scope}`);

    const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    await Promise.race([Promise.all(this.watches.all.map((g) => g.synced)), stopped]);
    if (!signal.aborted) this.log.info("Caches synced");
    await Promise.race([leadership, stopped]);
    let resync: Timer | undefined;
    if (!signal.aborted) {
      this.log.info("Checking every opted-in workload");
      this.enqueueAll();
      this.queue.start();
      void this.grants.synced.then(() => signal.aborted || this.grantExpiry.start());
      resync = setInterval(() => {
        this.enqueueAll();
        this.grantExpiry.checkAll();
      }, this.options.resyncMs);
    }

    await stopped;
    clearInterval(resync);
    this.grantExpiry.stop();
    this.log.info("Stopping: finishing writes in flight");
    await this.queue.shutdown();
    watching.abort();
    await Promise.allSettled(running);
  }

  /**
   * Removals at once; arrivals at once when lone, gathered within the debounce window in a burst,
   * and while more pods of their ReplicaSet are being made; a workload with no pods yet waits for its first.
   */
  private enqueue(touched: Touched[]): void {
    for (const { key, urgency } of touched) {
      if (urgency === "now") this.queue.add(key, 0);
      else if (urgency === "batch") this.queue.addBatched(key, this.options.debounceMs);
      else if (urgency === "gather") this.queue.addGathering(key, this.options.debounceMs);
      else this.queue.add(key, firstPodsWaitMs(this.options.debounceMs));
    }
  }

  /** Every managed workload, and every workload that still has managed objects. */
  private enqueueAll(): void {
    const { roles, roleBindings, serviceAccounts } = this.watches;
    const managedObjects = [roles, roleBindings, serviceAccounts].flatMap((cache) => [...(cache?.values() ?? [])]);
    for (const key of resyncKeys(this.world, managedObjects)) this.queue.add(key);
  }
}

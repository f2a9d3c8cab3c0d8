// Wires the watches to the work queue: every event is reduced to "which workload should be
// looked at, and how soon", and the reconciler does the rest.
//   pod event -> owner chain -> workload key -> debounce -> reconcile -> create/apply/delete
import type { AccessOptions } from "../access/desired.ts";
import { MANAGED_SELECTOR, OPT_IN_SELECTOR } from "../access/marks.ts";
import { managedName, NAME_PREFIX } from "../access/names.ts";
import { managedOwner } from "../access/ownership.ts";
import type { KubeApi } from "../kube/api.ts";
import { Informer, InformerGroup, type InformerOptions } from "../kube/informer.ts";
import { Metadata, parseObject, Role, RoleBinding } from "../kube/objects.ts";
import { Pods, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { EventRecorder, Reasons } from "./events.ts";
import { WorkQueue } from "./queue.ts";
import { ForeignObjectError, involved, Reconciler, RoleWriteRefusedError, type Caches } from "./reconciler.ts";
import { NotLeaderError } from "../kube/lease.ts";
import { isWorkloadKind, KINDS, WORKLOAD_KINDS } from "../access/kinds.ts";
import { keyOf, keyOfWorkload, parsePod, parseWorkload, splitWorkloadKey, workloadKey, World, type OwnedRef, type WorkloadRef } from "../access/membership.ts";

export interface ControllerOptions extends AccessOptions {
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  /** How long pod events for one workload are gathered before its Role is written. */
  debounceMs: number;
  /** How often every workload is checked again, even without events. */
  resyncMs: number;
  workers: number;
}

type Named = { namespace: string; name: string };
type Identified = Named | { metadata: Named };
const identity = (o: Identified): Named => ("metadata" in o ? o.metadata : o);

export class Controller {
  private readonly world = new World();
  private readonly caches: Caches;
  private readonly informers: InformerGroup<unknown>[];
  private readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly events: EventRecorder;
  private readonly pods: InformerGroup<OwnedRef>;
  private readonly managedObjects: ({ values(): Iterable<Metadata> } | undefined)[];

  constructor(api: KubeApi, private readonly options: ControllerOptions, private readonly log: Logger, private readonly metrics?: Metrics) {
    const group = <T extends Identified>(
      resource: ResourceType,
      parse: (raw: unknown) => T,
      onChange: (old: T | undefined, current: T | undefined) => void,
      extra: Partial<InformerOptions<T>> = {},
    ) => {
      return new InformerGroup<T>(
        options.namespaces,
        (namespace) => new Informer<T>({
          api, resource, namespace, parse, onChange, log,
          key: (o) => keyOf(identity(o)),
          onRestart: () => metrics?.watchRestarts.inc({ resource: resource.plural }),
          ...extra,
        }),
      );
    };

    const workloads = WORKLOAD_KINDS.map((kind) => group(KINDS[kind].resource, parseWorkload(kind), (o, c) => this.onWorkload(o, c)));
    const pods = group(Pods, parsePod, (o, c) => this.onPod(o, c), { metadataOnly: true, labelSelector: OPT_IN_SELECTOR });
    const managed = <T extends { metadata: { resourceVersion: string } }>() => ({ labelSelector: MANAGED_SELECTOR, versionOf: (o: T) => o.metadata.resourceVersion });
    const roles = group(Roles, (r) => parseObject(Role, r, "Role"), (o, c) => this.onManaged(o ?? c), managed<Role>());
    const withSa = options.createServiceAccountAndRoleBinding;
    const roleBindings = withSa ? group(RoleBindings, (r) => parseObject(RoleBinding, r, "RoleBinding"), (o, c) => this.onManaged(o ?? c), managed<RoleBinding>()) : undefined;
    // Every ServiceAccount, not only ours: a foreign one of a managed name is used as it is, and
    // when it is deleted the workload needs its own at once. Few per namespace, metadata only.
    const serviceAccounts = withSa
      ? group(ServiceAccounts, (r) => parseObject(Metadata, r, "ServiceAccount"), (o, c) => this.onServiceAccount(o, c), {
        versionOf: (o: Metadata) => o.metadata.resourceVersion, metadataOnly: true,
      })
      : undefined;

    this.caches = { world: this.world, roles, roleBindings, serviceAccounts };
    this.managedObjects = [roles, roleBindings, serviceAccounts];
    this.informers = [...workloads, pods, roles, ...(withSa ? [roleBindings!, serviceAccounts!] : [])] as InformerGroup<unknown>[];
    this.pods = pods;
    this.events = new EventRecorder(api, log);
    this.reconciler = new Reconciler(api, this.caches, options, this.events, log, metrics);
    // Nothing is reconciled before every cache has synced: a half-filled cache would make present
    // workloads look gone and present pods look absent.
    this.queue = new WorkQueue({
      startPaused: true,
      concurrency: options.workers,
      onIdle: () => this.collectGarbageSoon(),
      process: (key) => this.reconcile(key),
      onError: (key, err, retryInMs, failures) => {
        const retry = `retrying in ${(retryInMs / 1000).toFixed(1)}s (attempt ${failures})`;
        if (err instanceof ForeignObjectError || err instanceof RoleWriteRefusedError) {
          // Already reported with a Warning Event and a log line by the reconciler.
          this.log.debug(`${key}: ${(err as Error).message}; ${retry}`);
          return;
        }
        if (err instanceof NotLeaderError) {
          this.log.debug(`${key} not written: ${err.message}; ${retry}`);
          return;
        }
        const message = (err as Error).message;
        this.log.warn(`Reconciling ${key} failed: ${message}; ${retry}`);
        const { kind, namespace, name } = splitWorkloadKey(key);
        const w = this.world.get(kind, namespace, name);
        if (w) void this.events.warn(involved(w), Reasons.SyncFailed, `${message.slice(0, 900)}; retrying`);
      },
    });
    metrics?.track({
      queueDepth: () => this.queue.length,
      managedWorkloads: () => [...this.world.managedWorkloads()].length,
      trackedPods: () => this.pods.size,
    });
  }

  private lastCollection = 0;

  /**
   * After a burst of work, once the queue is idle, ask for one full garbage collection (at most
   * once every ten seconds), so the memory a burst of watch events and writes used is given back instead of
   * being held as heap. What the controller keeps is far smaller than what a burst allocates.
   */
  private collectGarbageSoon(): void {
    const now = Date.now();
    if (now - this.lastCollection < 10_000) return;
    this.lastCollection = now;
    setTimeout(() => Bun.gc(true), 1000).unref();
  }

  private async reconcile(key: string): Promise<void> {
    const done = this.metrics?.reconcileDuration.startTimer();
    try {
      await this.reconciler.reconcile(key);
      this.metrics?.reconciles.inc({ result: "success" });
    } catch (err) {
      this.metrics?.reconciles.inc({ result: err instanceof ForeignObjectError ? "conflict" : "error" });
      throw err;
    } finally {
      done?.();
    }
  }

  /** Every watch has listed once. */
  get ready(): boolean {
    return this.informers.every((g) => g.hasSynced);
  }

  /** No watch has been failing for longer than `limitMs` without a break. */
  healthy(limitMs = 120_000): boolean {
    return this.informers.every((g) => g.failingForMs() < limitMs);
  }

  /**
   * Runs until `signal` aborts, then lets in-flight writes finish. The watches start at once; no
   * write is made before `leadership` resolves (leader election), so a standby has warm caches.
   */
  async run(signal: AbortSignal, leadership: Promise<void> = Promise.resolve()): Promise<void> {
    const watches = new AbortController();
    const running = this.informers.flatMap((g) => g.run(watches.signal));
    const scope = this.options.namespaces.length ? `namespaces ${this.options.namespaces.join(", ")}` : "all namespaces";
    this.log.info(`Watching ${scope}`);

    const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    const synced = Promise.all(this.informers.map((g) => g.synced));
    await Promise.race([synced, stopped]);
    if (!signal.aborted) this.log.info("Caches synced");
    await Promise.race([leadership, stopped]);
    let resync: Timer | undefined;
    if (!signal.aborted) {
      this.log.info("Checking every opted-in workload");
      this.enqueueAll();
      this.queue.start();
      resync = setInterval(() => this.enqueueAll(), this.options.resyncMs);
    }

    await stopped;
    clearInterval(resync);
    this.log.info("Stopping: finishing writes in flight");
    await this.queue.shutdown();
    watches.abort();
    await Promise.allSettled(running);
  }

  /** Every opted-in workload, and every workload that still has managed objects. */
  private enqueueAll(): void {
    const keys = new Set<string>();
    for (const w of this.world.managedWorkloads()) keys.add(keyOfWorkload(w));
    for (const cache of this.managedObjects) {
      for (const obj of cache?.values() ?? []) {
        const owner = managedOwner(obj.metadata);
        if (owner && isWorkloadKind(owner.kind)) keys.add(workloadKey(owner.kind, obj.metadata.namespace, owner.name));
      }
    }
    for (const key of keys) this.queue.add(key);
  }

  /**
   * A workload object changed: look again at the workload it is, or belongs to, before and after.
   * Opting in waits out the debounce so the first pods gather; everything else goes at once.
   */
  private onWorkload(old: WorkloadRef | undefined, current: WorkloadRef | undefined): void {
    const before = old && this.world.resolve(old);
    this.world.updateWorkload(old, current);
    if (old && current && old.optedIn === current.optedIn && old.uid === current.uid && old.controllerUid === current.controllerUid) return;
    const after = current && this.world.resolve(current);
    const beforeKey = before && keyOfWorkload(before);
    const afterKey = after && keyOfWorkload(after);
    if (before && beforeKey !== afterKey && (before.optedIn || old?.optedIn)) this.queue.add(beforeKey!);
    if (after?.optedIn || (after && old?.optedIn)) {
      const arriving = after.optedIn && (!old || !old.optedIn || beforeKey !== afterKey);
      this.queue.add(afterKey!, arriving ? this.options.debounceMs : 0);
    }
  }

  private onPod(old: OwnedRef | undefined, current: OwnedRef | undefined): void {
    if (old && current && old.controllerUid === current.controllerUid && old.uid === current.uid) return;
    // Resolve the old owner before the index forgets the pod.
    const before = old && this.world.workloadOfPod(old);
    this.world.updatePod(old, current);
    const after = current && this.world.workloadOfPod(current);
    const beforeKey = before && keyOfWorkload(before);
    const afterKey = after && keyOfWorkload(after);
    // A pod that leaves takes its grant with it at once; arrivals are gathered for the debounce window.
    if (before?.optedIn) this.queue.add(beforeKey!, afterKey === beforeKey && old?.uid === current?.uid ? this.options.debounceMs : 0);
    if (after?.optedIn && afterKey !== beforeKey) this.queue.add(afterKey!, this.options.debounceMs);
  }

  /**
   * A ServiceAccount changed. Ours is a managed object; a foreign one that appears or goes away
   * changes what the opted-in workload of that name needs.
   */
  private onServiceAccount(old: Metadata | undefined, current: Metadata | undefined): void {
    const obj = old ?? current;
    if (!obj) return;
    if (managedOwner(obj.metadata)) return this.onManaged(obj);
    const { namespace, name } = obj.metadata;
    // Most ServiceAccounts cannot be one of ours; only a foreign one of a managed name needs the scan.
    if ((old && current) || !name.startsWith(NAME_PREFIX)) return;
    for (const w of this.world.all()) {
      if (w.namespace === namespace && managedName(w.kind, w.name) === name && this.world.isManaged(w)) this.queue.add(keyOfWorkload(w));
    }
  }

  /** A change to a managed object, including a hand edit: look at its workload again now. */
  private onManaged(obj: { metadata: { namespace: string; labels?: Record<string, string> | null } } | undefined): void {
    if (!obj) return;
    const owner = managedOwner(obj.metadata as Metadata["metadata"]);
    if (owner && isWorkloadKind(owner.kind)) this.queue.add(workloadKey(owner.kind, obj.metadata.namespace, owner.name));
  }
}

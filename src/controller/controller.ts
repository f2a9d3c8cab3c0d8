// Wires the watches to the work queue: every event is reduced to "which Deployment should be
// looked at, and how soon", and the reconciler does the rest.
//   pod event -> ReplicaSet -> Deployment key -> debounce -> reconcile -> create/apply/delete
import type { AccessOptions } from "../access/desired.ts";
import { MANAGED_SELECTOR, OPT_IN_SELECTOR } from "../access/marks.ts";
import { managedOwner } from "../access/ownership.ts";
import type { KubeApi } from "../kube/api.ts";
import { Informer, InformerGroup, type InformerOptions } from "../kube/informer.ts";
import { Metadata, parseObject, Role, RoleBinding } from "../kube/objects.ts";
import { Deployments, Pods, ReplicaSets, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import { EventRecorder } from "./events.ts";
import { WorkQueue } from "./queue.ts";
import { ForeignObjectError, Reconciler, type Caches } from "./reconciler.ts";
import { keyOf, parseDeployment, parsePod, parseReplicaSet, World, type DeploymentRef, type OwnedRef } from "./world.ts";

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

  constructor(api: KubeApi, private readonly options: ControllerOptions, private readonly log: Logger) {
    const group = <T extends Identified>(
      resource: ResourceType,
      parse: (raw: unknown) => T,
      onChange: (old: T | undefined, current: T | undefined) => void,
      extra: Partial<InformerOptions<T>> = {},
    ) => {
      const namespaceOf = (o: T) => identity(o).namespace;
      return new InformerGroup<T>(
        options.namespaces,
        (namespace) => new Informer<T>({
          api, resource, namespace, parse, onChange, log,
          key: (o) => keyOf(identity(o)),
          ...extra,
        }),
        namespaceOf,
      );
    };

    const deployments = group(Deployments, parseDeployment, (o, c) => this.onDeployment(o, c));
    const replicaSets = group(ReplicaSets, parseReplicaSet, (o, c) => this.onReplicaSet(o, c), { metadataOnly: true });
    const pods = group(Pods, parsePod, (o, c) => this.onPod(o, c), { metadataOnly: true, labelSelector: OPT_IN_SELECTOR });
    const managed = { labelSelector: MANAGED_SELECTOR };
    const roles = group(Roles, (r) => parseObject(Role, r, "Role"), (o, c) => this.onManaged(o ?? c), managed);
    const roleBindings = group(RoleBindings, (r) => parseObject(RoleBinding, r, "RoleBinding"), (o, c) => this.onManaged(o ?? c), managed);
    const serviceAccounts = group(ServiceAccounts, (r) => parseObject(Metadata, r, "ServiceAccount"), (o, c) => this.onManaged(o ?? c), { ...managed, metadataOnly: true });

    this.caches = { deployments, roles, roleBindings, serviceAccounts, world: this.world };
    this.informers = [deployments, replicaSets, pods, roles, roleBindings, serviceAccounts] as InformerGroup<unknown>[];
    this.reconciler = new Reconciler(api, this.caches, options, new EventRecorder(api, log), log);
    // Nothing is reconciled before every cache has synced: a half-filled cache would make present
    // workloads look gone and present pods look absent.
    this.queue = new WorkQueue({
      startPaused: true,
      concurrency: options.workers,
      process: (key) => this.reconciler.reconcile(key),
      onError: (key, err, retryInMs, failures) => {
        const retry = `retrying in ${(retryInMs / 1000).toFixed(1)}s (attempt ${failures})`;
        if (err instanceof ForeignObjectError) this.log.debug(`Deployment ${key} is blocked by a foreign object; ${retry}`);
        else this.log.warn(`Reconciling Deployment ${key} failed: ${(err as Error).message}; ${retry}`);
      },
    });
  }

  /** Runs until `signal` aborts, then lets in-flight writes finish. */
  async run(signal: AbortSignal): Promise<void> {
    const watches = new AbortController();
    const running = this.informers.flatMap((g) => g.run(watches.signal));
    const scope = this.options.namespaces.length ? `namespaces ${this.options.namespaces.join(", ")}` : "all namespaces";
    this.log.info(`Watching ${scope}`);

    const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    const synced = Promise.all(this.informers.map((g) => g.synced));
    await Promise.race([synced, stopped]);
    let resync: Timer | undefined;
    if (!signal.aborted) {
      this.log.info("Caches synced; checking every opted-in Deployment");
      this.enqueueAll();
      this.queue.start();
      resync = setInterval(() => {
        this.reconciler.resync();
        this.enqueueAll();
      }, this.options.resyncMs);
    }

    await stopped;
    clearInterval(resync);
    this.log.info("Stopping: finishing writes in flight");
    await this.queue.shutdown();
    watches.abort();
    await Promise.allSettled(running);
  }

  /** Every opted-in Deployment, and every workload that still has managed objects. */
  private enqueueAll(): void {
    const keys = new Set<string>();
    for (const d of this.caches.deployments.values()) if (d.optedIn) keys.add(keyOf(d));
    for (const cache of [this.caches.roles, this.caches.roleBindings, this.caches.serviceAccounts]) {
      for (const obj of cache.values()) {
        const owner = managedOwner(obj.metadata);
        if (owner?.kind === "Deployment") keys.add(`${obj.metadata.namespace}/${owner.name}`);
      }
    }
    for (const key of keys) this.queue.add(key);
  }

  private onDeployment(old: DeploymentRef | undefined, current: DeploymentRef | undefined): void {
    this.world.updateDeployment(old, current);
    if (old && current && old.optedIn === current.optedIn && old.uid === current.uid) return;
    if (!(old?.optedIn || current?.optedIn)) return;
    // Opting in waits for the first pods to gather; opting out and deletion take effect at once.
    const optingIn = current?.optedIn === true;
    this.queue.add(keyOf((current ?? old)!), optingIn ? this.options.debounceMs : 0);
  }

  private onReplicaSet(old: OwnedRef | undefined, current: OwnedRef | undefined): void {
    this.world.updateReplicaSet(old, current);
    if (old && current && old.controllerUid === current.controllerUid) return;
    for (const rs of [old, current]) {
      const d = rs && this.world.deploymentOfReplicaSet(rs);
      if (d?.optedIn) this.queue.add(keyOf(d), this.options.debounceMs);
    }
  }

  private onPod(old: OwnedRef | undefined, current: OwnedRef | undefined): void {
    if (old && current && old.controllerUid === current.controllerUid && old.uid === current.uid) return;
    // Resolve the old owner before the index forgets the pod.
    const before = old && this.world.deploymentOfPod(old);
    this.world.updatePod(old, current);
    const after = current && this.world.deploymentOfPod(current);
    // A pod that leaves takes its grant with it at once; arrivals are gathered for the debounce window.
    if (before?.optedIn) this.queue.add(keyOf(before), after && keyOf(after) === keyOf(before) && old?.uid === current?.uid ? this.options.debounceMs : 0);
    if (after?.optedIn && (!before || keyOf(before) !== keyOf(after))) this.queue.add(keyOf(after), this.options.debounceMs);
  }

  /** A change to a managed object, including a hand edit: look at its workload again now. */
  private onManaged(obj: { metadata: { namespace: string; labels?: Record<string, string> | null } } | undefined): void {
    if (!obj) return;
    const owner = managedOwner(obj.metadata as Metadata["metadata"]);
    if (owner?.kind === "Deployment") this.queue.add(`${obj.metadata.namespace}/${owner.name}`);
  }
}

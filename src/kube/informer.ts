import type { Logger } from "../log.ts";
import { Backoff } from "../util/backoff.ts";
import { copyData } from "../util/copy.ts";
import { sleep } from "../util/sleep.ts";
import type { KubeApi } from "./api.ts";
import type { ResourceType } from "./resources.ts";
import { ApiError, TlsVerificationError } from "./transport.ts";
import { messageOf } from "../util/errors.ts";
import { getOrCreate } from "../util/maps.ts";

export interface InformerOptions<T> {
  api: KubeApi;
  resource: ResourceType;
  namespace?: string;
  labelSelector?: string;
  /** Receive PartialObjectMetadata only. */
  metadataOnly?: boolean;
  /** Validates and projects an API object; throws when it is malformed. */
  parse(raw: unknown): T;
  key(obj: T): string;
  /** Called for each change, after the store was updated. `old`/`current` undefined mean added/deleted. */
  onChange(old: T | undefined, current: T | undefined): void;
  log: Logger;
  /** Server-side watch timeout range, seconds; a new watch resumes from the last resourceVersion. */
  watchTimeoutSeconds?: [number, number];
  /** Told each time the watch has to be started again after an error or expiry. */
  onRestart?: () => void;
  /**
   * The resourceVersion of an object. Given, `write` keeps the controller's own writes from being
   * replaced by older events that the watch delivers after the write's response.
   */
  versionOf?: (obj: T) => string;
  /**
   * The UID of an object. Given, a DELETED event for another UID than the stored object's is of an
   * earlier object of the same name and leaves the stored one alone.
   */
  uidOf?: (obj: T) => string;
  /** How long an own write may wait for its watch event before the watch's view wins again. */
  ownWriteTtlMs?: number;
}

/** Versions noted per write in flight; past this the write's result is not trusted over the watch. */
const MAX_NOTED_VERSIONS = 1024;

/** A write in flight: what the watch delivered for its object meanwhile, and whether a relist came. */
interface InFlight {
  writes: number;
  delivered: Set<string>;
  unsure: boolean;
}

/**
 * Keeps a local copy of a set of objects: list, then watch with bookmarks from the last
 * resourceVersion; relist on 410 Gone; restart the watch after any error, with backoff.
 * Unlike client-node's informer it never stops on its own and reports every failure.
 */
export class Informer<T> {
  readonly store = new Map<string, T>();
  private resourceVersion: string | undefined;
  private syncedOnce = false;
  /** When the current run of failures began; undefined while the watch works. */
  private failingSince: number | undefined;
  private resolveSynced!: () => void;
  /** Resolves after the first complete list. */
  readonly synced = new Promise<void>((resolve) => (this.resolveSynced = resolve));
  readonly description: string;

  constructor(private readonly opts: InformerOptions<T>) {
    const scope = opts.namespace ? ` in namespace ${opts.namespace}` : "";
    const selector = opts.labelSelector ? ` (${opts.labelSelector})` : "";
    this.description = `${opts.resource.plural}${scope}${selector}`;
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  /** How long list and watch have been failing without a break; 0 while they work. */
  failingForMs(now = Date.now()): number {
    return this.failingSince === undefined ? 0 : now - this.failingSince;
  }

  /** Writes in flight, per key (only with `versionOf`). */
  private readonly inFlight = new Map<string, InFlight>();
  /** Own writes the watch has not delivered yet: the version written and when its response came. */
  private readonly awaited = new Map<string, { version: string; at: number }>();

  /**
   * Sends a write of the object at `key` and keeps its result, so the next read does not see an
   * older copy. Watch events come in order: once the response is in, an event of another version
   * is older than the write until the write's own version comes by. What the watch delivered
   * while the write was in flight tells whether it is already past the write: if it delivered the
   * written version, or a relist came in between, the store is left to the watch. The store
   * therefore never goes back behind the apiserver for long, in any order of events, relists and
   * responses; and an own write not seen within `ownWriteTtlMs` stops holding back the watch.
   */
  async write(key: string, send: () => Promise<T>): Promise<T> {
    if (!this.opts.versionOf) {
      const obj = await send();
      this.store.set(key, obj);
      return obj;
    }
    const flight = getOrCreate(this.inFlight, key, () => ({ writes: 0, delivered: new Set(), unsure: false }));
    flight.writes++;
    try {
      const obj = await send();
      const version = this.opts.versionOf(obj);
      if (!flight.unsure && !flight.delivered.has(version)) {
        this.store.set(key, obj);
        this.awaited.set(key, { version, at: Date.now() });
      }
      return obj;
    } finally {
      if (--flight.writes === 0 && this.inFlight.get(key) === flight) this.inFlight.delete(key);
    }
  }

  /** Drops an object the controller just deleted. */
  forget(key: string): void {
    this.store.delete(key);
    this.awaited.delete(key);
  }

  /** Notes a delivered version; true when the event is older than an own write and must not replace it. */
  private olderThanOwnWrite(key: string, version: string | undefined): boolean {
    if (!this.opts.versionOf || version === undefined) return false;
    const flight = this.inFlight.get(key);
    if (flight && !flight.unsure) {
      flight.delivered.add(version);
      if (flight.delivered.size > MAX_NOTED_VERSIONS) flight.unsure = true;
    }
    const awaited = this.awaited.get(key);
    if (!awaited) return false;
    if (awaited.version === version || Date.now() - awaited.at > (this.opts.ownWriteTtlMs ?? 60_000)) {
      this.awaited.delete(key);
      return false;
    }
    return true;
  }

  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(500, 30_000);
    const { log } = this.opts;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watch(signal);
        backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        this.opts.onRestart?.();
        if (err instanceof ApiError && err.status === 410) {
          log.info(`Watch of ${this.description} expired (410 Gone); listing again`);
          this.resourceVersion = undefined;
          continue;
        }
        this.failingSince ??= Date.now();
        const delay = backoff.next();
        const message = messageOf(err);
        if (err instanceof TlsVerificationError || (err instanceof ApiError && (err.status === 401 || err.status === 403))) {
          log.error(`Cannot watch ${this.description}: ${message}; retrying in ${(delay / 1000).toFixed(1)}s`);
        } else {
          log.warn(`Watch of ${this.description} failed: ${message}; retrying in ${(delay / 1000).toFixed(1)}s`);
        }
        await sleep(delay, signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const { api, resource, namespace, labelSelector, metadataOnly } = this.opts;
    const fresh = new Map<string, T>();
    const take = (raws: unknown[]) => {
      const parsed: T[] = [];
      for (const raw of raws) {
        const obj = this.tryParse(raw);
        if (obj !== undefined) parsed.push(obj);
      }
      // Copied once the whole page is parsed, so what is kept lies together, away from the garbage.
      for (const obj of parsed) {
        const kept = copyData(obj);
        fresh.set(this.opts.key(kept), kept);
      }
    };
    // Each page is parsed as it comes, so the raw objects of a large list are never all held at once.
    const { items, resourceVersion } = await api.list(resource, { namespace, labelSelector, metadataOnly, onPage: take });
    take(items);
    const previous = new Map(this.store);
    this.store.clear();
    // The list is the apiserver's state at or after every write that has had its response; a
    // write still in flight may or may not be in it, so its result is not trusted over the watch.
    this.awaited.clear();
    for (const flight of this.inFlight.values()) flight.unsure = true;
    for (const [k, v] of fresh) this.store.set(k, v);
    for (const [k, old] of previous) if (!fresh.has(k)) this.notify(old, undefined);
    for (const [k, obj] of fresh) this.notify(previous.get(k), obj);
    this.resourceVersion = resourceVersion;
    this.failingSince = undefined;
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      this.resolveSynced();
    }
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const { api, resource, namespace, labelSelector, metadataOnly } = this.opts;
    const [min, max] = this.opts.watchTimeoutSeconds ?? [300, 600];
    const timeoutSeconds = Math.floor(min + Math.random() * (max - min));
    const events = await api.watch(resource, {
      namespace,
      labelSelector,
      metadataOnly,
      timeoutSeconds,
      signal,
      resourceVersion: this.resourceVersion!,
    });
    this.failingSince = undefined;
    for await (const event of events) {
      const meta = (event.object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata;
      switch (event.type) {
        case "BOOKMARK":
          break;
        case "ERROR": {
          const status = event.object as { code?: number; reason?: string; message?: string };
          throw new ApiError("WATCH", this.description, status.code ?? 500, status.reason, status.message ?? "watch error");
        }
        case "ADDED":
        case "MODIFIED": {
          const obj = this.tryParse(event.object);
          if (obj !== undefined) {
            const key = this.opts.key(obj);
            if (this.olderThanOwnWrite(key, meta?.resourceVersion)) break;
            const old = this.store.get(key);
            this.store.set(key, obj);
            this.notify(old, obj);
          }
          break;
        }
        case "DELETED": {
          const obj = this.tryParse(event.object);
          if (obj !== undefined) {
            const key = this.opts.key(obj);
            const older = this.olderThanOwnWrite(key, meta?.resourceVersion);
            const old = this.store.get(key);
            // Events come in order, so the deletion of another UID than the stored one's happened
            // before the stored object was made: the store holds an own write not yet seen here.
            if (older && old !== undefined && this.opts.uidOf && this.opts.uidOf(old) !== this.opts.uidOf(obj)) break;
            this.awaited.delete(key);
            this.store.delete(key);
            if (old !== undefined) this.notify(old, undefined);
          }
          break;
        }
      }
      if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
    }
  }

  private tryParse(raw: unknown): T | undefined {
    try {
      return this.opts.parse(raw);
    } catch (err) {
      this.opts.log.warn(`Ignored a malformed object from ${this.description}: ${messageOf(err)}`);
      return undefined;
    }
  }

  private notify(old: T | undefined, current: T | undefined): void {
    try {
      this.opts.onChange(old, current);
    } catch (err) {
      this.opts.log.error(`Handling a change of ${this.description} failed: ${(err as Error).stack ?? err}`);
    }
  }
}

/** One informer per watched namespace (or a single cluster-wide one), read as one store. */
export class InformerGroup<T> {
  private readonly informers = new Map<string, Informer<T>>();
  private readonly clusterWide: Informer<T> | undefined;

  constructor(namespaces: readonly string[], make: (namespace: string | undefined) => Informer<T>) {
    if (namespaces.length === 0) this.clusterWide = make(undefined);
    else for (const ns of namespaces) this.informers.set(ns, make(ns));
  }

  private all(): Informer<T>[] {
    return this.clusterWide ? [this.clusterWide] : [...this.informers.values()];
  }

  private for(namespace: string): Informer<T> | undefined {
    return this.clusterWide ?? this.informers.get(namespace);
  }

  get(namespace: string, name: string): T | undefined {
    return this.for(namespace)?.store.get(`${namespace}/${name}`);
  }

  *values(): Iterable<T> {
    for (const informer of this.all()) yield* informer.store.values();
  }

  /** Sends a write of `namespace/name` through the informer that holds it (see Informer.write). */
  write(namespace: string, name: string, send: () => Promise<T>): Promise<T> {
    const informer = this.for(namespace);
    return informer ? informer.write(`${namespace}/${name}`, send) : send();
  }

  forget(namespace: string, name: string): void {
    this.for(namespace)?.forget(`${namespace}/${name}`);
  }

  get synced(): Promise<void> {
    return Promise.all(this.all().map((i) => i.synced)).then(() => undefined);
  }

  get hasSynced(): boolean {
    return this.all().every((i) => i.hasSynced);
  }

  failingForMs(now = Date.now()): number {
    return Math.max(0, ...this.all().map((i) => i.failingForMs(now)));
  }

  get size(): number {
    let n = 0;
    for (const i of this.all()) n += i.store.size;
    return n;
  }

  run(signal: AbortSignal): Promise<void>[] {
    return this.all().map((i) => i.run(signal));
  }
}

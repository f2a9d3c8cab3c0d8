// A cluster-wide list-and-watch of one resource, kept as a map, for the monitor. Written here
// rather than borrowed from the controller, so a fault in the controller's informer cannot hide
// itself: relists on 410 Gone, resumes from the last resourceVersion on anything else.
import type { KubeApi } from "../../src/kube/api.ts";
import type { ResourceType } from "../../src/kube/resources.ts";
import { ApiError } from "../../src/kube/transport.ts";
import { getOrCreate } from "../../src/util/maps.ts";

interface Meta {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
}

export class Mirror {
  private readonly objects = new Map<string, Map<string, unknown>>();
  /** When each object that is gone was seen to go (`namespace\0name`), until one of that name comes back. */
  private readonly goneAt = new Map<string, number>();
  restarts = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly rt: ResourceType,
    private readonly namespaces: ReadonlySet<string>,
  ) {}

  /** Objects of one namespace. */
  in(namespace: string): unknown[] {
    return [...(this.objects.get(namespace)?.values() ?? [])];
  }

  /** Names of objects of a namespace that went and did not come back, with when they were seen to go. */
  gone(namespace: string): [string, number][] {
    const prefix = `${namespace}\0`;
    return [...this.goneAt].filter(([k]) => k.startsWith(prefix)).map(([k, at]) => [k.slice(prefix.length), at]);
  }

  private put(raw: unknown): void {
    const m = (raw as Meta).metadata;
    if (!m?.namespace || !m.name || !this.namespaces.has(m.namespace)) return;
    this.goneAt.delete(`${m.namespace}\0${m.name}`);
    getOrCreate(this.objects, m.namespace, () => new Map()).set(m.name, raw);
  }

  private drop(raw: unknown): void {
    const m = (raw as Meta).metadata;
    if (m?.namespace && m.name && this.objects.get(m.namespace)?.delete(m.name)) this.goneAt.set(`${m.namespace}\0${m.name}`, Date.now());
  }

  /** Lists once (resolves when it has), then keeps watching until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    let resourceVersion = await this.relist(signal);
    void (async () => {
      while (!signal.aborted) {
        try {
          if (!resourceVersion) resourceVersion = await this.relist(signal);
          const events = await this.api.watch(this.rt, { resourceVersion, timeoutSeconds: 240, signal });
          for await (const ev of events) {
            if (ev.type === "ERROR") {
              const code = (ev.object as { code?: number }).code;
              throw new ApiError("WATCH", this.rt.plural, code ?? 500, undefined, "watch error event");
            }
            const rv = (ev.object as Meta).metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            if (ev.type === "ADDED" || ev.type === "MODIFIED") this.put(ev.object);
            else if (ev.type === "DELETED") this.drop(ev.object);
          }
        } catch (err) {
          if (signal.aborted) return;
          this.restarts++;
          if (err instanceof ApiError && err.status === 410) resourceVersion = "";
          await Bun.sleep(500);
        }
      }
    })();
  }

  private async relist(signal: AbortSignal): Promise<string> {
    for (;;) {
      try {
        const { items, resourceVersion } = await this.api.list(this.rt, {});
        const before = [...this.objects].flatMap(([ns, m]) => [...m.keys()].map((n) => `${ns}\0${n}`));
        this.objects.clear();
        for (const item of items) this.put(item);
        // Gone while the watch was down: seen to go now, which is no earlier than it went.
        const now = Date.now();
        for (const key of before) {
          const [ns, name] = key.split("\0") as [string, string];
          if (!this.objects.get(ns)?.has(name)) this.goneAt.set(key, now);
        }
        return resourceVersion;
      } catch (err) {
        if (signal.aborted) throw err;
        await Bun.sleep(1000);
      }
    }
  }
}

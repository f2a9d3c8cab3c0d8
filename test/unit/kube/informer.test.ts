// The list-and-watch loop against a scripted stand-in for the apiserver: resumes from the last
// resourceVersion (bookmarks included), relists on 410 Gone, and reports what changed meanwhile.
import { describe, expect, test } from "bun:test";
import type { KubeApi, PagedListOptions, RawWatchEvent, WatchOptions } from "../../../src/kube/api.ts";
import { Informer } from "../../../src/kube/informer.ts";
import { Roles } from "../../../src/kube/resources.ts";
import { ApiError, NetworkError } from "../../../src/kube/transport.ts";
import { createLogger } from "../../../src/log.ts";

const obj = (name: string, rv: string) => ({ metadata: { name, namespace: "ns", resourceVersion: rv } });
type Step = RawWatchEvent[] | Error;

/** Each list() returns the next listing; each watch() plays the next step, then ends. */
function scripted(listings: { items: unknown[]; resourceVersion: string }[], steps: Step[]) {
  const calls = { lists: 0, watchesFrom: [] as string[] };
  const api = {
    async list() {
      return listings[Math.min(calls.lists++, listings.length - 1)]!;
    },
    async watch(_rt: unknown, opts: WatchOptions) {
      calls.watchesFrom.push(opts.resourceVersion);
      const step = steps.shift();
      if (step instanceof Error) throw step;
      return (async function* () {
        for (const e of step ?? []) yield e;
        if (!step) await new Promise<void>((r) => opts.signal?.addEventListener("abort", () => r()));
      })();
    },
  } as unknown as KubeApi;
  return { api, calls };
}

function run(api: KubeApi, withVersions = false) {
  const changes: string[] = [];
  const informer = new Informer<{ name: string; rv: string }>({
    api,
    resource: Roles,
    log: createLogger("error", "text"),
    parse: (raw) => ({ name: (raw as ReturnType<typeof obj>).metadata.name, rv: (raw as ReturnType<typeof obj>).metadata.resourceVersion }),
    key: (o) => `ns/${o.name}`,
    onChange: (old, cur) => changes.push(cur ? `${old ? "modified" : "added"} ${cur.name}@${cur.rv}` : `deleted ${old!.name}`),
    versionOf: withVersions ? (o) => o.rv : undefined,
  });
  const stop = new AbortController();
  const done = informer.run(stop.signal);
  return {
    informer,
    changes,
    stop: async () => {
      stop.abort();
      await done;
    },
  };
}

const settle = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await Bun.sleep(5);
};

/** A watch the test feeds event by event. */
function fed(listing: { items: unknown[]; resourceVersion: string }) {
  const queue: RawWatchEvent[] = [];
  let wake: (() => void) | undefined;
  const api = {
    async list() {
      return listing;
    },
    async watch(_rt: unknown, opts: WatchOptions) {
      return (async function* () {
        while (!opts.signal?.aborted) {
          const next = queue.shift();
          if (next) yield next;
          else
            await new Promise<void>((r) => {
              wake = r;
              opts.signal?.addEventListener("abort", () => r());
            });
        }
      })();
    },
  } as unknown as KubeApi;
  return {
    api,
    push: (e: RawWatchEvent) => {
      queue.push(e);
      wake?.();
    },
  };
}

describe("the controller's own writes", () => {
  test("events from before a write that arrive after it do not replace it", async () => {
    const { api, push } = fed({ items: [obj("r", "1")], resourceVersion: "1" });
    const r = run(api, true);
    await r.informer.synced;
    await r.informer.write("ns/r", async () => ({ name: "r", rv: "3" }));
    push({ type: "MODIFIED", object: obj("r", "2") }); // someone else's change, from before the write
    await Bun.sleep(20);
    expect(r.informer.store.get("ns/r")?.rv).toBe("3");
    push({ type: "MODIFIED", object: obj("r", "3") }); // the write itself
    push({ type: "MODIFIED", object: obj("r", "4") }); // a hand edit after it
    await settle(() => r.informer.store.get("ns/r")?.rv === "4");
    expect(r.informer.store.get("ns/r")?.rv).toBe("4");
    expect(r.changes).toEqual(["added r@1", "modified r@3", "modified r@4"]);
    await r.stop();
  });

  test("a write whose event beat its response leaves the newer state alone, and later edits still count", async () => {
    const { api, push } = fed({ items: [obj("r", "1")], resourceVersion: "1" });
    const r = run(api, true);
    await r.informer.synced;
    let respond!: () => void;
    const writing = r.informer.write("ns/r", () => new Promise((resolve) => (respond = () => resolve({ name: "r", rv: "3" }))));
    push({ type: "MODIFIED", object: obj("r", "3") }); // the write, seen on the watch first
    push({ type: "MODIFIED", object: obj("r", "4") }); // and a hand edit after it
    await settle(() => r.informer.store.get("ns/r")?.rv === "4");
    respond(); // the write's response, late
    await writing;
    expect(r.informer.store.get("ns/r")?.rv).toBe("4");
    push({ type: "MODIFIED", object: obj("r", "5") });
    await settle(() => r.informer.store.get("ns/r")?.rv === "5");
    expect(r.informer.store.get("ns/r")?.rv).toBe("5");
    await r.stop();
  });

  test("a deletion always counts", async () => {
    const { api, push } = fed({ items: [obj("r", "1")], resourceVersion: "1" });
    const r = run(api, true);
    await r.informer.synced;
    await r.informer.write("ns/r", async () => ({ name: "r", rv: "3" }));
    push({ type: "DELETED", object: obj("r", "4") });
    await settle(() => !r.informer.store.has("ns/r"));
    expect(r.informer.store.has("ns/r")).toBe(false);
    await r.stop();
  });

  test("a late deletion of an earlier object of the same name leaves the one just created", async () => {
    const withUid = (name: string, rv: string, uid: string) => ({ metadata: { name, namespace: "ns", resourceVersion: rv, uid } });
    const { api, push } = fed({ items: [withUid("r", "1", "old")], resourceVersion: "1" });
    type Obj = { name: string; rv: string; uid: string };
    const informer = new Informer<Obj>({
      api,
      resource: Roles,
      log: createLogger("error", "text"),
      parse: (raw) => {
        const m = (raw as ReturnType<typeof withUid>).metadata;
        return { name: m.name, rv: m.resourceVersion, uid: m.uid };
      },
      key: (o) => `ns/${o.name}`,
      onChange: () => {},
      versionOf: (o) => o.rv,
      uidOf: (o) => o.uid,
    });
    const stop = new AbortController();
    const done = informer.run(stop.signal);
    await informer.synced;
    // The old object was deleted (at 2) and a new one created (at 3); the watch has seen neither yet.
    await informer.write("ns/r", async () => ({ name: "r", rv: "3", uid: "new" }));
    push({ type: "DELETED", object: withUid("r", "2", "old") });
    push({ type: "BOOKMARK", object: { metadata: { resourceVersion: "2" } } });
    await Bun.sleep(20);
    expect(informer.store.get("ns/r")).toEqual({ name: "r", rv: "3", uid: "new" });
    push({ type: "ADDED", object: withUid("r", "3", "new") });
    push({ type: "DELETED", object: withUid("r", "4", "new") }); // and its own deletion counts
    await settle(() => !informer.store.has("ns/r"));
    expect(informer.store.has("ns/r")).toBe(false);
    stop.abort();
    await done;
  });
});

describe("Informer", () => {
  test("lists, then watches from the list's resourceVersion and applies events in order", async () => {
    const { api, calls } = scripted(
      [{ items: [obj("a", "1")], resourceVersion: "5" }],
      [
        [
          { type: "ADDED", object: obj("b", "6") },
          { type: "MODIFIED", object: obj("a", "7") },
          { type: "DELETED", object: obj("b", "8") },
        ],
      ],
    );
    const r = run(api);
    await settle(() => r.changes.length === 4);
    expect(calls.watchesFrom[0]).toBe("5");
    expect(r.changes).toEqual(["added a@1", "added b@6", "modified a@7", "deleted b"]);
    expect([...r.informer.store.keys()]).toEqual(["ns/a"]);
    await r.stop();
  });

  test("a list is taken page by page as it comes, and every page's objects are in the store", async () => {
    const pages = [[obj("a", "1"), obj("b", "2")], [obj("c", "3")]];
    const api = {
      async list(_rt: unknown, opts: PagedListOptions) {
        expect(opts.onPage).toBeInstanceOf(Function);
        for (const page of pages) opts.onPage!(page);
        return { items: [], resourceVersion: "5" };
      },
      watch: (_rt: unknown, opts: WatchOptions) =>
        (async function* () {
          await new Promise<void>((r) => opts.signal?.addEventListener("abort", () => r()));
        })(),
    } as unknown as KubeApi;
    const r = run(api);
    await settle(() => r.changes.length === 3);
    expect([...r.informer.store.keys()].sort()).toEqual(["ns/a", "ns/b", "ns/c"]);
    await r.stop();
  });

  test("a watch that ends or fails resumes from the last resourceVersion seen, bookmarks included, without listing again", async () => {
    const { api, calls } = scripted(
      [{ items: [], resourceVersion: "5" }],
      [
        [
          { type: "ADDED", object: obj("a", "6") },
          { type: "BOOKMARK", object: { metadata: { resourceVersion: "9" } } },
        ],
        new NetworkError("connection reset"),
      ],
    );
    const r = run(api);
    await settle(() => calls.watchesFrom.length >= 3);
    expect(calls.watchesFrom.slice(0, 3)).toEqual(["5", "9", "9"]);
    expect(calls.lists).toBe(1);
    expect(r.informer.failingForMs()).toBe(0);
    await r.stop();
  });

  test("410 Gone relists: objects gone meanwhile are reported deleted, every listed object is reported current", async () => {
    const { api, calls } = scripted(
      [
        { items: [obj("a", "1"), obj("b", "2")], resourceVersion: "5" },
        { items: [obj("b", "2"), obj("c", "8")], resourceVersion: "9" },
      ],
      [[{ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old" } }]],
    );
    const r = run(api);
    await settle(() => calls.lists === 2 && r.changes.length >= 5);
    expect(r.changes).toEqual(["added a@1", "added b@2", "deleted a", "modified b@2", "added c@8"]);
    expect([...r.informer.store.keys()].sort()).toEqual(["ns/b", "ns/c"]);
    expect(calls.watchesFrom.at(-1)).toBe("9");
    await r.stop();
  });

  test("a refused watch is retried, not given up", async () => {
    const { api, calls } = scripted([{ items: [], resourceVersion: "5" }], [new ApiError("GET", "/roles", 403, "Forbidden", "no")]);
    const r = run(api);
    await settle(() => calls.watchesFrom.length >= 2);
    expect(calls.watchesFrom.length).toBeGreaterThanOrEqual(2);
    await r.stop();
  });
});

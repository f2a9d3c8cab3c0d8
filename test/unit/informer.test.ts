import { describe, expect, test } from "bun:test";
import type { KubeApi, RawWatchEvent } from "../../src/kube/api.ts";
import { Informer } from "../../src/kube/informer.ts";
import { Roles } from "../../src/kube/resources.ts";
import { createLogger } from "../../src/log.ts";

interface Obj { name: string; rv: string }
const role = (rv: string) => ({ metadata: { name: "r", namespace: "ns", resourceVersion: rv } });

/** A stand-in for the apiserver: one list, then the watch events the test pushes. */
function fakeApi(listed: unknown[], listRv: string) {
  const queue: RawWatchEvent[] = [];
  let wake: (() => void) | undefined;
  const api = {
    async list() {
      return { items: listed, resourceVersion: listRv };
    },
    async watch(_rt: unknown, opts: { signal?: AbortSignal }) {
      return (async function* () {
        while (!opts.signal?.aborted) {
          const next = queue.shift();
          if (next) yield next;
          else await new Promise<void>((r) => (wake = r));
        }
      })();
    },
  } as unknown as KubeApi;
  return { api, push(e: RawWatchEvent) { queue.push(e); wake?.(); } };
}

function informer(api: KubeApi, seen: (Obj | undefined)[]) {
  return new Informer<Obj>({
    api, resource: Roles, log: createLogger("error", "text"),
    parse: (raw) => ({ name: (raw as ReturnType<typeof role>).metadata.name, rv: (raw as ReturnType<typeof role>).metadata.resourceVersion }),
    key: (o) => `ns/${o.name}`,
    onChange: (_old, cur) => seen.push(cur),
  });
}

describe("Informer", () => {
  test("after the controller's own write, older events are skipped until the watch brings that write", async () => {
    const { api, push } = fakeApi([role("1")], "1");
    const seen: (Obj | undefined)[] = [];
    const inf = informer(api, seen);
    const stop = new AbortController();
    void inf.run(stop.signal);
    await inf.synced;
    inf.remember({ name: "r", rv: "3" }, "3");
    push({ type: "MODIFIED", object: role("2") }); // someone else's change, from before our write
    push({ type: "MODIFIED", object: role("3") }); // our write
    push({ type: "MODIFIED", object: role("4") }); // a later change
    for (let i = 0; i < 50 && inf.store.get("ns/r")?.rv !== "4"; i++) await Bun.sleep(2);
    expect(inf.store.get("ns/r")?.rv).toBe("4");
    expect(seen.map((o) => o?.rv)).toEqual(["1", "4"]);
    stop.abort();
    push({ type: "BOOKMARK", object: {} });
  });

  test("a deletion always applies, even while waiting for our own write", async () => {
    const { api, push } = fakeApi([role("1")], "1");
    const inf = informer(api, []);
    const stop = new AbortController();
    void inf.run(stop.signal);
    await inf.synced;
    inf.remember({ name: "r", rv: "3" }, "3");
    push({ type: "DELETED", object: role("5") });
    for (let i = 0; i < 50 && inf.store.has("ns/r"); i++) await Bun.sleep(2);
    expect(inf.store.has("ns/r")).toBe(false);
    stop.abort();
    push({ type: "BOOKMARK", object: {} });
  });
});

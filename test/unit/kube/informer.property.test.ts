// The informer never goes blind: whatever the order of watch events, relists after 410 Gone, and
// the responses to the controller's own writes, its store ends equal to the apiserver's objects,
// and later changes by anyone else still reach it. The apiserver here is a reference model: a map
// of objects, a log of events in resourceVersion order, and a watch that delivers the log only as
// fast as the test lets it.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { KubeApi, RawWatchEvent, WatchOptions } from "../../../src/kube/api.ts";
import { Informer } from "../../../src/kube/informer.ts";
import { Roles } from "../../../src/kube/resources.ts";
import { createLogger } from "../../../src/log.ts";

interface Obj {
  name: string;
  rv: string;
}
const manifest = (name: string, rv: string) => ({ metadata: { name, namespace: "ns", resourceVersion: rv } });

/** The apiserver: objects by name, and every change as a watch event in order. */
class ModelServer {
  private revision = 1;
  readonly objects = new Map<string, string>();
  readonly log: { rv: number; event: RawWatchEvent }[] = [];
  /** Events the current watch may still deliver before it waits. */
  private credits = 0;
  private expire = false;
  private wake: (() => void) | undefined;
  /** Where the open watch is in the log; -1 when none is open. */
  private position = -1;

  change(name: string, type: "ADDED" | "MODIFIED" | "DELETED"): string {
    const rv = String(++this.revision);
    if (type === "DELETED") this.objects.delete(name);
    else this.objects.set(name, rv);
    this.log.push({ rv: this.revision, event: { type, object: manifest(name, rv) } });
    this.wake?.();
    return rv;
  }

  deliver(n: number): void {
    this.credits += n;
    this.wake?.();
  }

  expireWatch(): void {
    this.expire = true;
    this.wake?.();
  }

  /** True when the open watch has delivered the whole log and waits. */
  get caughtUp(): boolean {
    return this.position === this.log.length;
  }

  readonly api = {
    list: async () => ({
      items: [...this.objects].map(([name, rv]) => manifest(name, rv)),
      resourceVersion: String(this.revision),
    }),
    watch: async (_rt: unknown, opts: WatchOptions) => {
      const from = Number(opts.resourceVersion);
      const server = this;
      this.expire = false;
      return (async function* (): AsyncGenerator<RawWatchEvent> {
        let i = server.log.findIndex((e) => e.rv > from);
        if (i < 0) i = server.log.length;
        server.position = i;
        while (!opts.signal?.aborted) {
          if (server.expire) {
            server.expire = false;
            server.position = -1;
            yield { type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old" } };
            return;
          }
          if (server.credits > 0 && i < server.log.length) {
            server.credits--;
            const next = server.log[i++]!;
            server.position = i;
            yield next.event;
            continue;
          }
          await new Promise<void>((resolve) => {
            server.wake = resolve;
            opts.signal?.addEventListener("abort", () => resolve(), { once: true });
          });
        }
      })();
    },
  } as unknown as KubeApi;
}

type Step =
  | { op: "change"; name: string }
  | { op: "delete"; name: string }
  | { op: "write"; name: string }
  | { op: "respond"; which: number }
  | { op: "deliver"; n: number }
  | { op: "expire" };

const names = fc.constantFrom("a", "b");
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: names.map((name) => ({ op: "change" as const, name })) },
  { weight: 1, arbitrary: names.map((name) => ({ op: "delete" as const, name })) },
  { weight: 4, arbitrary: names.map((name) => ({ op: "write" as const, name })) },
  { weight: 4, arbitrary: fc.nat(4).map((which) => ({ op: "respond" as const, which })) },
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 12 }).map((n) => ({ op: "deliver" as const, n })) },
  { weight: 1, arbitrary: fc.constant({ op: "expire" as const }) },
);

const turn = async () => {
  for (let i = 0; i < 6; i++) await Bun.sleep(0);
};

async function play(steps: Step[]): Promise<{ server: ModelServer; informer: Informer<Obj>; stop: () => Promise<void> }> {
  const server = new ModelServer();
  server.change("a", "ADDED");
  const informer = new Informer<Obj>({
    api: server.api,
    resource: Roles,
    log: createLogger("error", "text"),
    parse: (raw) => ({
      name: (raw as ReturnType<typeof manifest>).metadata.name,
      rv: (raw as ReturnType<typeof manifest>).metadata.resourceVersion,
    }),
    key: (o) => `ns/${o.name}`,
    onChange: () => {},
    versionOf: (o) => o.rv,
  });
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  await informer.synced;
  const responses: (() => void)[] = [];
  const writes: Promise<unknown>[] = [];
  for (const s of steps) {
    switch (s.op) {
      case "change":
        server.change(s.name, server.objects.has(s.name) ? "MODIFIED" : "ADDED");
        break;
      case "delete":
        if (server.objects.has(s.name)) server.change(s.name, "DELETED");
        break;
      case "write":
        // The controller writes only objects it sees; the apiserver applies the write at once
        // and its response comes whenever the test says.
        if (server.objects.has(s.name) && informer.store.has(`ns/${s.name}`)) {
          writes.push(
            informer.write(`ns/${s.name}`, () => {
              const rv = server.change(s.name, "MODIFIED");
              return new Promise<Obj>((resolve) => responses.push(() => resolve({ name: s.name, rv })));
            }),
          );
        }
        break;
      case "respond":
        if (responses.length > 0) responses.splice(s.which % responses.length, 1)[0]!();
        break;
      case "deliver":
        server.deliver(s.n);
        break;
      case "expire":
        server.expireWatch();
        break;
    }
    await turn();
  }
  for (const respond of responses.splice(0)) respond();
  await Promise.all(writes);
  server.deliver(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < 200 && !server.caughtUp; i++) await turn();
  await turn();
  return {
    server,
    informer,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

function storeMatches(server: ModelServer, informer: Informer<Obj>): void {
  const store = Object.fromEntries([...informer.store.values()].map((o) => [o.name, o.rv]));
  expect(store).toEqual(Object.fromEntries(server.objects));
}

describe("the informer's store against a model apiserver", () => {
  test("ends equal to the apiserver's objects in any order of events, relists and write responses", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const { server, informer, stop } = await play(steps);
        try {
          storeMatches(server, informer);
          // Not blind: a change by someone else afterwards is seen too.
          for (const name of ["a", "b"]) server.change(name, server.objects.has(name) ? "MODIFIED" : "ADDED");
          for (let i = 0; i < 200 && !server.caughtUp; i++) await turn();
          await turn();
          storeMatches(server, informer);
        } finally {
          await stop();
        }
      }),
      { numRuns: 300 },
    );
  });

  test("a relist that already holds a write in flight does not blind the store to later events", async () => {
    // write in flight -> 410 and a relist that lists the write's result -> the write's response
    // -> a hand edit: the edit must reach the store.
    const { server, informer, stop } = await play([
      { op: "write", name: "a" },
      { op: "expire" },
      { op: "respond", which: 0 },
      { op: "change", name: "a" },
      { op: "deliver", n: 5 },
    ]);
    storeMatches(server, informer);
    await stop();
  });

  test("more events than any fixed history between a write and its response do not blind it", async () => {
    const steps: Step[] = [{ op: "write", name: "a" }];
    for (let i = 0; i < 20; i++) steps.push({ op: "change", name: "a" });
    steps.push({ op: "deliver", n: 21 }, { op: "respond", which: 0 }, { op: "change", name: "a" }, { op: "deliver", n: 1 });
    const { server, informer, stop } = await play(steps);
    storeMatches(server, informer);
    await stop();
  });
});

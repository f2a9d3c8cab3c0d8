// The controller's own cost per pod event, whatever the machine can offer: a watch stream recorded
// from a real run on the local cluster (kwok runs the pods) is replayed in-process into the
// controller's informers, routing, queue and reconciler, with the apiserver's side answered by a
// fast fake that counts the writes. Measured: process CPU (user + system) per 1,000 events, and so
// the events per second one core absorbs, twice: with the watch frames parsed from their recorded
// bytes as the real watch does (lines -> JSON.parse -> informer), and from frames parsed beforehand
// (the decision alone: informer stores, routing, queue, reconcile, desired state, diff).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { KINDS, WORKLOAD_KINDS } from "../../src/access/kinds.ts";
import { MANAGED_SELECTOR, OPT_IN_SELECTOR } from "../../src/access/marks.ts";
import { Controller, type ControllerOptions } from "../../src/controller/controller.ts";
import { KubeApi, type RawWatchEvent, type WatchOptions } from "../../src/kube/api.ts";
import { collectionPath, Deployments, Pods, Roles, type ResourceType } from "../../src/kube/resources.ts";
import type { Request, Transport } from "../../src/kube/transport.ts";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/telemetry/metrics.ts";
import { lines } from "../../src/util/lines.ts";
import { forEachLimit, namespace, OPT_IN, round, until, withCluster } from "./kit.ts";
import { deployment } from "../harness/workloads.ts";
import { getOrCreate } from "../../src/util/maps.ts";

/** One frame of a recorded watch: which watch it came on, and its bytes as the apiserver sent them. */
interface Frame {
  resource: string;
  line: string;
}

export interface Recording {
  namespace: string;
  workloads: number;
  frames: Frame[];
}

/** The watches the controller opens in one namespace (without --create-sa-and-rolebinding). */
function watched(): { resource: ResourceType; labelSelector?: string; metadataOnly?: boolean }[] {
  return [
    ...WORKLOAD_KINDS.map((k) => ({ resource: KINDS[k].resource })),
    { resource: Pods, labelSelector: OPT_IN_SELECTOR, metadataOnly: true },
    { resource: Roles, labelSelector: MANAGED_SELECTOR },
  ];
}

const METADATA_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/**
 * Records, on a cluster with a simulated node, the watch frames the controller would receive while
 * `workloads` opted-in Deployments are created with 3 pods, scaled to 6, rolled out (every pod
 * replaced), scaled to 2 and half of them deleted. No controller runs: the stream is the cluster's.
 */
export function record(workloads: number): Promise<Recording> {
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "replay");
      const frames: Frame[] = [];
      // Pods ever added and pods live, counted as their frames arrive.
      const pods = { added: 0, live: new Set<string>() };
      const abort = new AbortController();
      const readers = await Promise.all(
        watched().map(async ({ resource, labelSelector, metadataOnly }) => {
          let { resourceVersion } = await env.api.list(resource, { namespace: ns, labelSelector, metadataOnly });
          const open = () =>
            env.api.transport.request({
              path: collectionPath(resource, ns),
              query: { watch: true, allowWatchBookmarks: true, resourceVersion, timeoutSeconds: 3600, labelSelector },
              accept: metadataOnly ? METADATA_OBJECT : undefined,
              signal: abort.signal,
              streaming: true,
            });
          let response = await open();
          // Wrapped, so that Promise.all waits for the watches to open, not to end. A watch the
          // apiserver ends (a slow reader is cut off) is opened again from the last version seen.
          return {
            done: (async () => {
              while (!abort.signal.aborted) {
                for await (const raw of lines(response.body!)) {
                  const line = raw.trim();
                  if (!line) continue;
                  const { type, object } = JSON.parse(line) as {
                    type: string;
                    object: { metadata?: { name: string; resourceVersion: string } };
                  };
                  if (type === "ERROR" || !object.metadata) throw new Error(`an ${type} event: ${line.slice(0, 200)}`);
                  resourceVersion = object.metadata.resourceVersion;
                  if (type === "BOOKMARK") continue;
                  frames.push({ resource: resource.plural, line });
                  if (resource !== Pods) continue;
                  if (type === "ADDED") {
                    pods.added++;
                    pods.live.add(object.metadata.name);
                  }
                  if (type === "DELETED") pods.live.delete(object.metadata.name);
                }
                if (!abort.signal.aborted) response = await open();
              }
            })().catch((err: Error) => {
              if (!abort.signal.aborted) process.stderr.write(`bench: the recording's ${resource.plural} watch failed: ${err.message}\n`);
            }),
          };
        }),
      );
      const list = Array.from({ length: workloads }, (_, i) => `w${i}`);
      /** Until `added` pods were ever added and `live` are there, and no frame has come for 3 s. */
      const settled = async (what: string, added: number, live: number) => {
        let last = -1;
        await until(
          what,
          async () => {
            const quiet = frames.length === last;
            last = frames.length;
            return quiet && pods.added >= added && pods.live.size === live ? true : undefined;
          },
          900_000,
          3000,
        ).catch((err: Error) => {
          throw new Error(`${err.message} (pods added ${pods.added} of ${added}, live ${pods.live.size} of ${live})`);
        });
      };
      const patch = (d: string, body: unknown) => env.api.mergePatch(Deployments, ns, d, body, { fieldManager: "podlogreader-bench" });
      const w = workloads;
      await forEachLimit(list, 16, (d) =>
        env.api.create(Deployments, ns, deployment(undefined, d, { replicas: 3, templateLabels: OPT_IN })),
      );
      await settled("the pods of the new Deployments", 3 * w, 3 * w);
      await forEachLimit(list, 16, (d) => patch(d, { spec: { replicas: 6 } }));
      await settled("the scale-up", 6 * w, 6 * w);
      await forEachLimit(list, 16, (d) => patch(d, { spec: { template: { metadata: { annotations: { rollout: "2" } } } } }));
      await settled("the rollout", 12 * w, 6 * w);
      await forEachLimit(list, 16, (d) => patch(d, { spec: { replicas: 2 } }));
      await settled("the scale-down", 12 * w, 2 * w);
      const deleted = Math.floor(w / 2);
      await forEachLimit(list.slice(0, deleted), 16, (d) => env.api.delete(Deployments, ns, d));
      await settled("the deletions", 12 * w, 2 * (w - deleted));
      abort.abort();
      await Promise.allSettled(readers.map((r) => r.done));
      return { namespace: ns, workloads, frames };
    },
    { nodes: 1 },
  );
}

/**
 * The apiserver's side of the write boundary: every write answered at once with its own body (plus
 * a uid and a fresh resourceVersion), counted by verb.
 */
class Writes {
  /** By "VERB resource". */
  readonly byVerb: Record<string, number> = {};
  private version = 1_000_000;
  lastAt = 0;
  lastCpu = process.cpuUsage();

  /** `body` becomes the answer: callers pass a copy. */
  answer(method: string, resource: string, body: unknown): unknown {
    const key = `${method} ${resource}`;
    this.byVerb[key] = (this.byVerb[key] ?? 0) + 1;
    this.lastAt = performance.now();
    this.lastCpu = process.cpuUsage();
    const obj = (body ?? {}) as { metadata?: Record<string, unknown> };
    obj.metadata = { uid: `uid-${this.version}`, ...obj.metadata, resourceVersion: String(++this.version) };
    return obj;
  }

  get total(): number {
    return Object.values(this.byVerb).reduce((a, b) => a + b, 0);
  }
}

type Feed = { push(frame: Frame): void };

/**
 * A Transport stand-in under the real KubeApi: lists are empty, each watch is a byte stream the
 * replay writes the recorded frames into, writes go to `writes`.
 */
function fakeTransport(writes: Writes): { transport: Transport; feed: Feed } {
  const streams = new Map<string, ReadableStreamDefaultController<Uint8Array>>();
  const pending = new Map<string, Uint8Array[]>();
  const encoder = new TextEncoder();
  const resourceOf = (path: string) => path.split("/").at(-1)!;
  const writtenResource = (path: string) => /\/namespaces\/[^/]+\/([^/]+)/.exec(path)?.[1] ?? path;
  const transport = {
    async request(req: Request): Promise<Response> {
      if (req.query?.watch) {
        const resource = resourceOf(req.path);
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            streams.set(resource, controller);
            for (const chunk of pending.get(resource) ?? []) controller.enqueue(chunk);
            pending.delete(resource);
            req.signal?.addEventListener("abort", () => controller.close());
          },
        });
        return new Response(body);
      }
      if (req.method === "DELETE") {
        writes.answer("DELETE", writtenResource(req.path), undefined);
        return new Response("{}");
      }
      return Response.json(await transport.json(req));
    },
    async json(req: Request): Promise<unknown> {
      if (!req.method || req.method === "GET") return { items: [], metadata: { resourceVersion: "1" } };
      // The real transport serializes the body and parses the answer; one JSON.parse of the
      // request's own text stands in for parsing the answer (of about the same size).
      return writes.answer(req.method, writtenResource(req.path), JSON.parse(JSON.stringify(req.body)));
    },
  };
  const feed: Feed = {
    push(frame) {
      const chunk = encoder.encode(`${frame.line}\n`);
      const stream = streams.get(frame.resource);
      if (stream) stream.enqueue(chunk);
      else pending.set(frame.resource, [...(pending.get(frame.resource) ?? []), chunk]);
    },
  };
  return { transport: transport as unknown as Transport, feed };
}

/** A KubeApi stand-in whose watches yield events parsed before the measurement. */
function fakeParsedApi(writes: Writes, parsed: Map<Frame, RawWatchEvent>): { api: KubeApi; feed: Feed } {
  const queues = new Map<string, { events: RawWatchEvent[]; wake?: () => void }>();
  const queueOf = (resource: string) => {
    return getOrCreate(queues, resource, () => ({ events: [] }));
  };
  const api = {
    async list() {
      return { items: [], resourceVersion: "1" };
    },
    async watch(rt: ResourceType, opts: WatchOptions) {
      const q = queueOf(rt.plural);
      return (async function* () {
        while (!opts.signal?.aborted) {
          if (q.events.length) {
            const batch = q.events.splice(0);
            yield* batch;
          } else
            await new Promise<void>((r) => {
              q.wake = r;
              opts.signal?.addEventListener("abort", () => r(), { once: true });
            });
        }
      })();
    },
    async create(rt: ResourceType, _ns: string, body: unknown) {
      return writes.answer("POST", rt.plural, structuredClone(body));
    },
    async apply(rt: ResourceType, _ns: string, body: unknown) {
      return writes.answer("PATCH", rt.plural, structuredClone(body));
    },
    async update(rt: ResourceType, _ns: string, body: unknown) {
      return writes.answer("PUT", rt.plural, structuredClone(body));
    },
    async mergePatch(rt: ResourceType, _ns: string, _name: string, body: unknown) {
      return writes.answer("PATCH", rt.plural, structuredClone(body));
    },
    async delete(rt: ResourceType) {
      writes.answer("DELETE", rt.plural, undefined);
    },
    withWriteFence() {
      return api;
    },
  } as unknown as KubeApi;
  const feed: Feed = {
    push(frame) {
      const q = queueOf(frame.resource);
      q.events.push(parsed.get(frame)!);
      q.wake?.();
      q.wake = undefined;
    },
  };
  return { api, feed };
}

export interface ReplayRun {
  /** "parsed" includes reading the frames' bytes and JSON.parse; "decision" starts from parsed events. */
  mode: "parsed" | "decision";
  /** Events offered per second; 0 = all at once. */
  offeredPerSecond: number;
  events: number;
  podEvents: number;
  cpuMsPer1000Events: number;
  eventsPerCpuSecond: number;
  /** The same CPU, divided among the pod events alone (the stream's workload events ride along). */
  cpuMsPer1000PodEvents: number;
  podEventsPerCpuSecond: number;
  wallSeconds: number;
  writes: Record<string, number>;
}

export interface ReplayResult {
  workloads: number;
  frames: number;
  podFrames: number;
  runs: ReplayRun[];
}

async function replayOnce(rec: Recording, mode: ReplayRun["mode"], ratePerSecond: number): Promise<ReplayRun> {
  const writes = new Writes();
  const parsed = new Map<Frame, RawWatchEvent>();
  let api: KubeApi;
  let feed: Feed;
  if (mode === "parsed") {
    const fake = fakeTransport(writes);
    api = new KubeApi(fake.transport);
    feed = fake.feed;
  } else {
    for (const f of rec.frames) parsed.set(f, JSON.parse(f.line) as RawWatchEvent);
    ({ api, feed } = fakeParsedApi(writes, parsed));
  }
  const options: ControllerOptions = {
    namespaces: [rec.namespace],
    debounceMs: 250,
    resyncMs: 3_600_000,
    workers: 4,
    podVisibility: "own",
    createServiceAccountAndRoleBinding: false,
  };
  const controller = new Controller(api, options, createLogger("error", "text"), new Metrics());
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  await until("the replayed caches to sync", async () => (controller.ready ? true : undefined), 10_000, 5);
  await Bun.sleep(200);
  Bun.gc(true);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  writes.lastCpu = cpu0;
  writes.lastAt = t0;
  if (ratePerSecond === 0) {
    for (const f of rec.frames) feed.push(f);
  } else {
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((ratePerSecond * tickMs) / 1000));
    for (let i = 0; i < rec.frames.length; i += perTick) {
      const tick = performance.now();
      for (const f of rec.frames.slice(i, i + perTick)) feed.push(f);
      await Bun.sleep(Math.max(0, tickMs - (performance.now() - tick)));
    }
  }
  // Drained once no write has come for two batching windows and a second.
  let lastWrites = -1;
  await until(
    "the replay to drain",
    async () => {
      const n = writes.total;
      if (n === lastWrites && performance.now() - writes.lastAt > 1000) return true;
      lastWrites = n;
      return undefined;
    },
    600_000,
    500,
  );
  const cpu = writes.lastCpu;
  const cpuMs = (cpu.user - cpu0.user + cpu.system - cpu0.system) / 1000;
  stop.abort();
  await running;
  const events = rec.frames.length;
  const podEvents = rec.frames.filter((f) => f.resource === "pods").length;
  return {
    mode,
    offeredPerSecond: ratePerSecond,
    events,
    podEvents,
    cpuMsPer1000Events: round((cpuMs / events) * 1000, 1),
    eventsPerCpuSecond: Math.round(events / (cpuMs / 1000)),
    cpuMsPer1000PodEvents: round((cpuMs / podEvents) * 1000, 1),
    podEventsPerCpuSecond: Math.round(podEvents / (cpuMs / 1000)),
    wallSeconds: round((writes.lastAt - t0) / 1000, 2),
    writes: writes.byVerb,
  };
}

/**
 * Records a stream (or reads `REPLAY_RECORDING` when that file exists) and replays it: each mode
 * all at once and at `REPLAY_RATE` events/s (default 2,000), three times, keeping the median CPU.
 */
export async function replay(): Promise<ReplayResult> {
  const file = process.env.REPLAY_RECORDING;
  const workloads = Number(process.env.REPLAY_WORKLOADS ?? 200);
  let rec: Recording;
  if (file && existsSync(file)) rec = JSON.parse(readFileSync(file, "utf8")) as Recording;
  else {
    rec = await record(workloads);
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(rec));
    }
  }
  const rate = Number(process.env.REPLAY_RATE ?? 2000);
  const runs: ReplayRun[] = [];
  for (const mode of ["parsed", "decision"] as const) {
    for (const offered of [0, rate]) {
      const tries: ReplayRun[] = [];
      for (let i = 0; i < 3; i++) tries.push(await replayOnce(rec, mode, offered));
      tries.sort((a, b) => a.cpuMsPer1000Events - b.cpuMsPer1000Events);
      runs.push(tries[1]!);
    }
  }
  return { workloads: rec.workloads, frames: rec.frames.length, podFrames: rec.frames.filter((f) => f.resource === "pods").length, runs };
}

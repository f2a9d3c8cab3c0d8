// Tools the benchmark scenarios share: a fresh control plane, the compiled controller as a child
// process (its own RSS, its own /metrics), and watchers that timestamp what the apiserver reports.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import { OPT_IN_SELECTOR } from "../../src/access/marks.ts";
import { Deployments, Namespaces, Pods, Roles, type ResourceType } from "../../src/kube/resources.ts";
import { ApiError, Transport } from "../../src/kube/transport.ts";
import { IMAGE_ENV } from "../image/env.ts";
import { startCluster, stopCluster, type ClusterOptions, type ClusterState } from "../harness/controlplane.ts";
import { freePort } from "../harness/net.ts";
import { eventually } from "../harness/poll.ts";
import { deployment as deploymentOf, OPT_IN } from "../harness/workloads.ts";

export { OPT_IN };

export const binary = process.env.PODLOGREADER_BENCH_BINARY ?? resolve(import.meta.dir, "../../dist/podlogreader");
/**
 * Drops the executable's pages from the page cache, so that what RSS counts of them is what the
 * controller itself reads. A file the build just wrote, or one read whole, is cached in large
 * folios; the kernel then maps whole folios around each page the process touches, and the same
 * binary's idle RSS reads up to 7 MiB higher (50.1 MiB after this, 54 as written by cp, 57 after
 * cat). Runs before any controller starts: pages a running process maps are not dropped.
 */
export function dropExecutableFromPageCache(): void {
  const dd = Bun.spawnSync(["dd", `if=${binary}`, "iflag=nocache", "count=0", "status=none"], { stderr: "pipe" });
  if (dd.exitCode !== 0) throw new Error(`dd could not drop ${binary} from the page cache: ${dd.stderr.toString().trim()}`);
}

/** The field manager of the benchmark's own edits. */
const FIELD_MANAGER = "podlogreader-bench";

export interface Env {
  cluster: ClusterState;
  api: KubeApi;
}

/**
 * Runs `fn` against a control plane of its own, stopped afterwards. Without simulated nodes by
 * default: scheduling and kwok's status updates would share the 2 cores with what is measured.
 */
export async function withCluster<T>(fn: (env: Env) => Promise<T>, options: ClusterOptions = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-bench-"));
  const cluster = await startCluster(dir, undefined, { nodes: 0, ...options });
  try {
    return await fn({ cluster, api: new KubeApi(new Transport(loadConnection({ kubeconfig: cluster.kubeconfig }))) });
  } finally {
    stopCluster(dir);
  }
}

export async function namespace(api: KubeApi, name: string): Promise<string> {
  await api.create(Namespaces, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  return name;
}

export interface Controller {
  proc: Subprocess;
  startedAt: number;
  /**
   * Resident and peak resident memory of the controller process alone, in bytes; `anon` and `file`
   * split `rss` into anonymous memory (heaps, JIT code) and pages of the executable that were read.
   */
  memory(): { rss: number; peak: number; anon: number; file: number };
  /** Sum of a counter over all its label sets, from /metrics. */
  counter(name: string): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the compiled controller with the image's environment (as the chart runs it), or with `controllerEnv` instead. */
export async function startController(
  env: Env,
  args: string[],
  controllerEnv: Readonly<Record<string, string>> = IMAGE_ENV,
): Promise<Controller> {
  const [port, probePort] = [await freePort(), await freePort()];
  const startedAt = performance.now();
  const proc = Bun.spawn(
    [
      binary,
      "--kubeconfig",
      env.cluster.kubeconfig,
      "--metrics-bind-address",
      `127.0.0.1:${port}`,
      "--health-probe-bind-address",
      `127.0.0.1:${probePort}`,
      "--log-level",
      "warn",
      ...args,
    ],
    {
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      env: { ...process.env, ...controllerEnv },
    },
  );
  const status = (field: string) =>
    Number(readFileSync(`/proc/${proc.pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0) * 1024;
  const controller: Controller = {
    proc,
    startedAt,
    memory: () => ({ rss: status("VmRSS"), peak: status("VmHWM"), anon: status("RssAnon"), file: status("RssFile") }),
    async counter(name) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // A name the controller does not export is a mistake in the benchmark, not a zero.
      if (!text.includes(`# TYPE ${name} `)) throw new Error(`the controller exports no metric ${name}`);
      return text
        .split("\n")
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
  await until(
    "the controller's /readyz",
    async () =>
      (await fetch(`http://127.0.0.1:${probePort}/readyz`).then(
        (r) => r.ok,
        () => false,
      )) || undefined,
    60_000,
  );
  return controller;
}

/** Polls every `everyMs` (20 by default: latencies are measured with it) until `check` answers. */
export function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 20): Promise<T> {
  return eventually(what, check, timeoutMs, everyMs);
}

/** An opted-in Deployment of `replicas` pods labelled app=<name>. */
export const deployment = (name: string, replicas: number) => deploymentOf(undefined, name, { replicas, templateLabels: OPT_IN });

export async function scale(api: KubeApi, ns: string, name: string, replicas: number): Promise<void> {
  await api.mergePatch(Deployments, ns, name, { spec: { replicas } }, { fieldManager: FIELD_MANAGER });
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * The benchmark's own watch of a namespace's `rt`: lists, then follows the watch for as long as it
 * is not stopped. When the server ends the watch, or it fails, it resumes from the last
 * resourceVersion seen (bookmarks included), so no event is missed. Only a 410 Gone loses events:
 * it lists again and counts a gap, which a figure that depends on every event must report.
 */
abstract class NamespaceWatch {
  /** Times the watch resumed after the server ended it or it failed. */
  restarts = 0;
  /** Times events were lost (410 Gone, listed again), with the time each was found. */
  readonly gapsAt: number[] = [];
  private readonly abort = new AbortController();

  protected abstract observe(type: "LISTED" | "ADDED" | "MODIFIED" | "DELETED", raw: unknown): void;

  protected async follow(
    api: KubeApi,
    rt: ResourceType,
    query: { namespace: string; labelSelector?: string; metadataOnly?: boolean },
  ): Promise<void> {
    const relist = async () => {
      const { items, resourceVersion } = await api.list(rt, query);
      for (const item of items) this.observe("LISTED", item);
      return resourceVersion;
    };
    /** Undefined after a 410 Gone, until the list that follows it succeeds. */
    let resourceVersion: string | undefined = await relist();
    const signal = this.abort.signal;
    void (async () => {
      while (!signal.aborted) {
        try {
          resourceVersion ??= await relist();
          for await (const ev of await api.watch(rt, { ...query, resourceVersion, timeoutSeconds: 3600, signal })) {
            const rv: string | undefined = (ev.object as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
            if (ev.type === "ERROR")
              throw new ApiError("WATCH", rt.plural, (ev.object as { code?: number }).code ?? 500, undefined, JSON.stringify(ev.object));
            if (ev.type !== "BOOKMARK") this.observe(ev.type, ev.object);
            if (rv) resourceVersion = rv;
          }
        } catch (err) {
          if (signal.aborted) return;
          if (err instanceof ApiError && err.status === 410) {
            this.gapsAt.push(performance.now());
            process.stderr.write(`bench: the benchmark's watch of ${rt.plural} expired (410 Gone); events were lost, listing again\n`);
            resourceVersion = undefined;
            continue;
          }
          process.stderr.write(`bench: the benchmark's watch of ${rt.plural} failed: ${(err as Error).message}; resuming\n`);
          await Bun.sleep(200);
        }
        if (!signal.aborted && resourceVersion !== undefined) this.restarts++;
      }
    })();
  }

  stop(): void {
    this.abort.abort();
  }
}

/** Watches a namespace's Roles: which pods each names, when a name first appeared or left, and how many writes it saw. */
export class RoleWatch extends NamespaceWatch {
  readonly pods = new Map<string, Set<string>>();
  readonly listedAt = new Map<string, number>();
  readonly unlistedAt = new Map<string, number>();
  writes = 0;

  static async start(api: KubeApi, ns: string): Promise<RoleWatch> {
    const w = new RoleWatch();
    await w.follow(api, Roles, { namespace: ns });
    return w;
  }

  protected observe(type: "LISTED" | "ADDED" | "MODIFIED" | "DELETED", raw: unknown): void {
    const role = raw as { metadata: { name: string }; rules?: { resources?: string[]; resourceNames?: string[] }[] };
    if (type === "DELETED") {
      this.pods.delete(role.metadata.name);
      return;
    }
    const now = performance.now();
    const names = new Set(role.rules?.find((r) => r.resources?.includes("pods/log"))?.resourceNames ?? []);
    const before = this.pods.get(role.metadata.name) ?? new Set<string>();
    for (const p of names) if (!before.has(p) && !this.listedAt.has(p)) this.listedAt.set(p, now);
    for (const p of before) if (!names.has(p) && !this.unlistedAt.has(p)) this.unlistedAt.set(p, now);
    this.pods.set(role.metadata.name, names);
    if (type !== "LISTED") this.writes++;
  }
}

/** Watches a namespace's opted-in pods: when each was first seen, and when it was deleted. */
export class PodWatch extends NamespaceWatch {
  readonly seenAt = new Map<string, number>();
  readonly deletedAt = new Map<string, number>();

  static async start(api: KubeApi, ns: string): Promise<PodWatch> {
    const w = new PodWatch();
    await w.follow(api, Pods, { namespace: ns, metadataOnly: true, labelSelector: OPT_IN_SELECTOR });
    return w;
  }

  protected observe(type: "LISTED" | "ADDED" | "MODIFIED" | "DELETED", raw: unknown): void {
    const name = (raw as { metadata?: { name?: string } }).metadata?.name;
    if (!name) return;
    if (type === "ADDED" && !this.seenAt.has(name)) this.seenAt.set(name, performance.now());
    if (type === "DELETED" && !this.deletedAt.has(name)) this.deletedAt.set(name, performance.now());
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (n: number, digits = 1) => Number(n.toFixed(digits));
export const MiB = (bytes: number) => round(bytes / 2 ** 20, 2);

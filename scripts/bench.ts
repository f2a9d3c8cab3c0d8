// `make bench`: what the debounce does to a burst. On a fresh local control plane, the compiled
// binary watches one opted-in Deployment scaled 0 -> 50 -> 0; the Role's own watch counts the
// writes, and the time from the scale request to the Role listing every pod (or none) is taken.
// Prints a table and writes the figures as JSON to $BENCH_OUT (default bench/results.json).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { KubeApi } from "../src/kube/api.ts";
import { loadConnection } from "../src/kube/config.ts";
import { Deployments, Namespaces, Pods, Roles, objectPath } from "../src/kube/resources.ts";
import { Transport } from "../src/kube/transport.ts";
import { startCluster, stopCluster } from "./lib/controlplane.ts";

const repo = resolve(import.meta.dir, "..");
const binary = join(repo, "dist", "podlogreader");
const out = process.env.BENCH_OUT ?? join(repo, "bench", "results.json");
const PODS = 50;

interface RoleSnapshot { at: number; pods: number }

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-bench-"));
  const cluster = await startCluster(dir);
  const api = new KubeApi(new Transport(loadConnection({ kubeconfig: cluster.kubeconfig })));
  const version = ((await api.transport.json({ path: "/version" })) as { gitVersion: string }).gitVersion;
  const results: Record<string, unknown>[] = [];
  try {
    for (const debounce of ["0", "1s"]) results.push(...(await scenario(api, cluster.kubeconfig, debounce)));
  } finally {
    stopCluster(dir);
  }
  const report = { machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) }, kubernetes: version, pods: PODS, results };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${cpus().length} cores, ${report.machine.memoryGiB} GiB, Kubernetes ${version}\n`);
  console.log("debounce  change    Role writes  seconds until the Role was right");
  for (const r of results) console.log(`${String(r.debounce).padEnd(9)} ${String(r.change).padEnd(9)} ${String(r.roleWrites).padStart(11)}  ${String(r.seconds).padStart(8)}`);
  console.log(`\nWritten to ${out}`);
}

async function scenario(api: KubeApi, kubeconfig: string, debounce: string): Promise<Record<string, unknown>[]> {
  const ns = `bench-${debounce.replace(/\W/g, "")}-${Date.now().toString(36)}`;
  await api.create(Namespaces, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  const controller = Bun.spawn([binary, "--kubeconfig", kubeconfig, "--namespace", ns, "--debounce", debounce, "--log-level", "warn"], { stdout: "inherit", stderr: "inherit" });
  try {
    await api.create(Deployments, ns, {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
      spec: {
        replicas: 0, selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web", "podlogreader-affiliate": "enable" } }, spec: { containers: [{ name: "app", image: "registry.invalid/web:1" }] } },
      },
    });
    const snapshots: RoleSnapshot[] = [];
    const watching = new AbortController();
    const role = await until(async () => (await api.get(Roles, ns, "podlogreader-web").catch(() => undefined)) as { metadata: { resourceVersion: string } } | undefined);
    void (async () => {
      for await (const ev of await api.watch(Roles, { namespace: ns, resourceVersion: role.metadata.resourceVersion, timeoutSeconds: 600, signal: watching.signal })) {
        if (ev.type !== "MODIFIED") continue;
        const rules = (ev.object as { rules?: { resources?: string[]; resourceNames?: string[] }[] }).rules ?? [];
        snapshots.push({ at: performance.now(), pods: rules.find((r) => r.resources?.includes("pods/log"))?.resourceNames?.length ?? 0 });
      }
    })().catch(() => {});

    const measure = async (replicas: number) => {
      snapshots.length = 0;
      const start = performance.now();
      await api.transport.request({ method: "PATCH", path: objectPath(Deployments, ns, "web"), contentType: "application/merge-patch+json", body: { spec: { replicas } } });
      const done = await until(async () => snapshots.find((s) => s.pods === replicas));
      await until(async () => ((await api.list(Pods, { namespace: ns, metadataOnly: true })).items.length === replicas ? true : undefined));
      await Bun.sleep(3000); // trailing writes, if any, still count
      return { debounce, change: replicas ? `0->${replicas}` : `${PODS}->0`, roleWrites: snapshots.length, seconds: Number(((done.at - start) / 1000).toFixed(2)) };
    };
    const up = await measure(PODS);
    const down = await measure(0);
    watching.abort();
    return [up, down];
  } finally {
    controller.kill("SIGTERM");
    await controller.exited;
  }
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await Bun.sleep(20);
  }
  throw new Error("timed out");
}

await main();

// The benchmark scenarios. Each runs against a fresh control plane and the compiled binary.
import { managedName } from "../../src/access/names.ts";
import { Deployments, Pods, ReplicaSets } from "../../src/kube/resources.ts";
import {
  deployment,
  forEachLimit,
  MiB,
  namespace,
  OPT_IN,
  percentile,
  PodWatch,
  RoleWatch,
  round,
  scale,
  startController,
  until,
  withCluster,
  type Env,
} from "./kit.ts";

const role = (d: string) => managedName("Deployment", d);
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function createDeployments(env: Env, ns: string, list: string[], replicas: number): Promise<void> {
  await forEachLimit(list, 32, (d) => env.api.create(Deployments, ns, deployment(d, replicas)));
}

/** Until every Deployment's Role lists exactly `count` pods. */
function allListed(roles: RoleWatch, list: string[], count: number, timeoutMs = 180_000) {
  return until(
    `${list.length} Roles to list ${count} pods`,
    async () => (list.every((d) => roles.pods.get(role(d))?.size === count) ? true : undefined),
    timeoutMs,
  );
}

const stats = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return {
    samples: s.length,
    p50: round(percentile(s, 50)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    max: round(s.at(-1) ?? Number.NaN),
  };
};

export interface LatencyResult {
  deployments: number;
  rounds: number;
  upMs: ReturnType<typeof stats>;
  downMs: ReturnType<typeof stats>;
  upSamples: number[];
  downSamples: number[];
}

/** N Deployments scale up by one and back down at the same moment, many rounds. */
export function latency(n: number, rounds: number): Promise<LatencyResult> {
  return withCluster(async (env) => {
    const ns = await namespace(env.api, `latency-${n}`);
    const list = names("d", n);
    await createDeployments(env, ns, list, 1);
    const roles = await RoleWatch.start(env.api, ns);
    const pods = await PodWatch.start(env.api, ns);
    const ctl = await startController(env, ["--namespace", ns]);
    await allListed(roles, list, 1);
    const up: number[] = [];
    const down: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const seenBefore = new Set(pods.seenAt.keys());
      await forEachLimit(list, 50, (d) => scale(env.api, ns, d, 2));
      await allListed(roles, list, 2);
      for (const [p, t] of pods.seenAt) if (!seenBefore.has(p) && roles.listedAt.has(p)) up.push(roles.listedAt.get(p)! - t);
      const deletedBefore = new Set(pods.deletedAt.keys());
      await forEachLimit(list, 50, (d) => scale(env.api, ns, d, 1));
      await allListed(roles, list, 1);
      await until("the DELETED events", async () => (pods.deletedAt.size - deletedBefore.size >= n ? true : undefined), 30_000);
      for (const [p, t] of pods.deletedAt) if (!deletedBefore.has(p) && roles.unlistedAt.has(p)) down.push(roles.unlistedAt.get(p)! - t);
    }
    await ctl.stop();
    roles.stop();
    pods.stop();
    return {
      deployments: n,
      rounds,
      upMs: stats(up),
      downMs: stats(down),
      upSamples: up.map((x) => round(x)),
      downSamples: down.map((x) => round(x)),
    };
  });
}

export interface WritesResult {
  scaleUp: { roleWrites: number; apiRequests: number };
  scaleDown: { roleWrites: number; apiRequests: number };
  resyncWrites: number;
  restartWrites: number;
}

/** One Deployment 0 -> 100 -> 0; then writes in steady state, across resyncs and a restart. */
export function writes(): Promise<WritesResult> {
  return withCluster(async (env) => {
    const ns = await namespace(env.api, "writes");
    await createDeployments(env, ns, ["web"], 0);
    const roles = await RoleWatch.start(env.api, ns);
    let ctl = await startController(env, ["--namespace", ns]);
    await until("the Role", async () => (roles.pods.has(role("web")) ? true : undefined));
    await Bun.sleep(2000);
    const measure = async (replicas: number) => {
      const [w0, r0] = [roles.writes, await ctl.counter("rest_client_requests_total")];
      await scale(env.api, ns, "web", replicas);
      await allListed(roles, ["web"], replicas);
      await Bun.sleep(3000); // late writes still count
      return { roleWrites: roles.writes - w0, apiRequests: (await ctl.counter("rest_client_requests_total")) - r0 };
    };
    const scaleUp = await measure(100);
    const scaleDown = await measure(0);
    await scale(env.api, ns, "web", 10);
    await allListed(roles, ["web"], 10);
    await ctl.stop();

    ctl = await startController(env, ["--namespace", ns, "--resync", "1s"]);
    await Bun.sleep(2000);
    const w1 = roles.writes;
    await Bun.sleep(5000); // five resyncs
    const resyncWrites = roles.writes - w1;
    await ctl.stop();

    const w2 = roles.writes;
    ctl = await startController(env, ["--namespace", ns]);
    await Bun.sleep(5000);
    const restartWrites = roles.writes - w2;
    await ctl.stop();
    roles.stop();
    return { scaleUp, scaleDown, resyncWrites, restartWrites };
  });
}

export interface MemoryResult {
  idleMiB: number;
  /** Idle RSS split: anonymous memory, and pages of the executable (see dropExecutableFromPageCache). */
  idleAnonMiB: number;
  idleFileMiB: number;
  after10kForeignPodsMiB: number;
  extraFor10kForeignPodsMiB: number;
  after1000OptedInPodsMiB: number;
  /** The first 1,000 opted-in pods: their data plus one-time costs (code compiled on first use, heap growth). */
  firstThousandOptedInPodsMiB: number;
  after2000OptedInPodsMiB: number;
  /** What each further 1,000 opted-in pods cost: the steady figure. */
  perThousandOptedInPodsMiB: number;
  peakMiB: number;
}

/**
 * RSS of the controller process alone: idle, with 10,000 pods that did not opt in, with 1,000 that
 * did (100 Deployments of 10), and with 2,000 (the same Deployments at 20).
 */
export function memory(): Promise<MemoryResult> {
  return withCluster(async (env) => {
    const ns = await namespace(env.api, "memory");
    const ctl = await startController(env, ["--namespace", ns]);
    await Bun.sleep(5000);
    const { rss: idle, anon: idleAnon, file: idleFile } = ctl.memory();
    await forEachLimit(names("bare-", 10_000), 64, (name) =>
      env.api.create(Pods, ns, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { app: "bare" } },
        spec: { containers: [{ name: "c", image: "registry.invalid/x:1" }] },
      }),
    );
    await Bun.sleep(5000);
    const foreign = ctl.memory().rss;
    const roles = await RoleWatch.start(env.api, ns);
    const list = names("d", 100);
    await createDeployments(env, ns, list, 10);
    await allListed(roles, list, 10, 300_000);
    await Bun.sleep(15_000);
    const thousand = ctl.memory().rss;
    await forEachLimit(list, 32, (d) => scale(env.api, ns, d, 20));
    await allListed(roles, list, 20, 300_000);
    await Bun.sleep(15_000);
    const twoThousand = ctl.memory().rss;
    const peak = ctl.memory().peak;
    await ctl.stop();
    roles.stop();
    return {
      idleMiB: MiB(idle),
      idleAnonMiB: MiB(idleAnon),
      idleFileMiB: MiB(idleFile),
      after10kForeignPodsMiB: MiB(foreign),
      extraFor10kForeignPodsMiB: MiB(foreign - idle),
      after1000OptedInPodsMiB: MiB(thousand),
      firstThousandOptedInPodsMiB: MiB(thousand - foreign),
      after2000OptedInPodsMiB: MiB(twoThousand),
      perThousandOptedInPodsMiB: MiB(twoThousand - thousand),
      peakMiB: MiB(peak),
    };
  });
}

export interface StartupResult {
  deployments: number;
  pods: number;
  seconds: number;
}

/** 500 Deployments with 4 pods each exist and have no Roles; from process start until every Role is right. */
export function startup(deployments = 500, replicas = 4): Promise<StartupResult> {
  return withCluster(async (env) => {
    const ns = await namespace(env.api, "startup");
    const list = names("d", deployments);
    await createDeployments(env, ns, list, replicas);
    await until(
      `${deployments * replicas} pods`,
      async () =>
        (await env.api.list(Pods, { namespace: ns, metadataOnly: true })).items.length === deployments * replicas ? true : undefined,
      600_000,
      1000,
    );
    const roles = await RoleWatch.start(env.api, ns);
    const ctl = await startController(env, ["--namespace", ns]);
    await allListed(roles, list, replicas, 300_000);
    const seconds = round((performance.now() - ctl.startedAt) / 1000, 2);
    await ctl.stop();
    roles.stop();
    return { deployments, pods: deployments * replicas, seconds };
  });
}

export interface ThroughputStep {
  targetPerSecond: number;
  achievedPerSecond: number;
  lagP99Ms: number;
  lagP99FirstThirdMs: number;
  lagP99LastThirdMs: number;
  settleSeconds: number;
  bounded: boolean;
  /** Pod creates and deletes of the load generator that the apiserver failed or refused, by status. */
  generatorErrors: Record<string, number>;
  /** Times the benchmark's own pod or Role watch lost events (410 Gone) during the step: its figures miss them. */
  benchWatchGaps: number;
  /** Times the server ended the benchmark's own watches during the step and they resumed, losing nothing. */
  benchWatchRestarts: number;
}

/**
 * Pod changes at rising rates, 15 s per rate. The benchmark plays the Deployment and ReplicaSet
 * controllers itself (kube-controller-manager runs without them): it creates and deletes pods
 * owned through a ReplicaSet by opted-in Deployments, so the rate is what podlogreader is offered,
 * not what the controller-manager can produce on two cores. Lag runs from the pod event to the Role
 * showing it. A rate is sustained when the lag at the end of the window is no worse than at its
 * start (within a debounce window) and the Roles catch up within 10 s once the load stops.
 */
export function throughput(rates = [50, 100, 200, 400, 800], windowMs = 15_000): Promise<ThroughputStep[]> {
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "throughput");
      const list = names("d", 200);
      const owners = new Map<string, { apiVersion: string; kind: string; name: string; uid: string; controller: boolean }>();
      await forEachLimit(list, 32, async (d) => {
        const dep = (await env.api.create(Deployments, ns, deployment(d, 0))) as { metadata: { uid: string } };
        const rs = (await env.api.create(ReplicaSets, ns, {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          metadata: {
            name: `${d}-rs`,
            labels: { app: d },
            ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d, uid: dep.metadata.uid, controller: true }],
          },
          spec: { replicas: 0, selector: { matchLabels: { app: d } }, template: deployment(d, 0).spec.template },
        })) as { metadata: { uid: string } };
        owners.set(d, { apiVersion: "apps/v1", kind: "ReplicaSet", name: `${d}-rs`, uid: rs.metadata.uid, controller: true });
      });
      let seq = 0;
      const live = new Map<string, string[]>(list.map((d) => [d, []]));
      const createPod = async (d: string) => {
        const name = `${d}-p${seq++}`;
        live.get(d)!.push(name);
        await env.api.create(Pods, ns, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, labels: { app: d, ...OPT_IN }, ownerReferences: [owners.get(d)!] },
          spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
        });
      };
      const deletePod = async (d: string) => {
        const name = live.get(d)!.shift();
        if (name) await env.api.delete(Pods, ns, name);
      };
      await forEachLimit(list, 32, createPod);
      const roles = await RoleWatch.start(env.api, ns);
      const pods = await PodWatch.start(env.api, ns);
      const ctl = await startController(env, ["--namespace", ns]);
      await allListed(roles, list, 1, 300_000);
      const steps: ThroughputStep[] = [];
      let next = 0;
      for (const rate of rates) {
        const start = performance.now();
        const [seen0, deleted0] = [new Set(pods.seenAt.keys()), new Set(pods.deletedAt.keys())];
        const restarts0 = pods.restarts + roles.restarts;
        const tickMs = 100;
        const perTick = rate / (1000 / tickMs);
        let owed = 0;
        const inflight: Promise<unknown>[] = [];
        const generatorErrors: Record<string, number> = {};
        while (performance.now() - start < windowMs) {
          const tick = performance.now();
          owed += perTick;
          for (; owed >= 1; owed--) {
            const d = list[next++ % list.length]!;
            inflight.push(
              (live.get(d)!.length > 1 ? deletePod(d) : createPod(d)).catch((err: Error & { status?: number }) => {
                const key = String(err.status ?? err.name);
                generatorErrors[key] = (generatorErrors[key] ?? 0) + 1;
              }),
            );
          }
          await Bun.sleep(Math.max(0, tickMs - (performance.now() - tick)));
        }
        await Promise.all(inflight);
        const loadEnd = performance.now();
        let settled = true;
        try {
          await until(
            "the Roles to catch up",
            async () => (list.every((d) => roles.pods.get(role(d))?.size === live.get(d)!.length) ? true : undefined),
            10_000,
          );
        } catch {
          settled = false;
        }
        const settleSeconds = round((performance.now() - loadEnd) / 1000, 2);
        const gaps = [...pods.gapsAt, ...roles.gapsAt].filter((t) => t >= start).length;
        const lags: { at: number; lag: number }[] = [];
        for (const [p, t] of pods.seenAt) if (!seen0.has(p) && roles.listedAt.has(p)) lags.push({ at: t, lag: roles.listedAt.get(p)! - t });
        for (const [p, t] of pods.deletedAt)
          if (!deleted0.has(p) && roles.unlistedAt.has(p)) lags.push({ at: t, lag: roles.unlistedAt.get(p)! - t });
        const third = windowMs / 3;
        const p99 = (xs: number[]) =>
          round(
            percentile(
              [...xs].sort((a, b) => a - b),
              99,
            ),
          );
        const first = lags.filter((l) => l.at - start < third).map((l) => l.lag);
        const last = lags.filter((l) => l.at - start >= 2 * third && l.at <= loadEnd).map((l) => l.lag);
        const events =
          [...pods.seenAt.values()].filter((t) => t >= start && t <= loadEnd).length +
          [...pods.deletedAt.values()].filter((t) => t >= start && t <= loadEnd).length;
        steps.push({
          targetPerSecond: rate,
          achievedPerSecond: round(events / ((loadEnd - start) / 1000)),
          lagP99Ms: p99(lags.map((l) => l.lag)),
          lagP99FirstThirdMs: p99(first),
          lagP99LastThirdMs: p99(last),
          settleSeconds,
          bounded: settled && p99(last) <= p99(first) + 1000,
          generatorErrors,
          benchWatchGaps: gaps,
          benchWatchRestarts: pods.restarts + roles.restarts - restarts0,
        });
        if (!settled) break;
      }
      await ctl.stop();
      roles.stop();
      pods.stop();
      return steps;
    },
    { controllers: "*,-deployment,-replicaset" },
  );
}

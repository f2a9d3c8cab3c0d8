// The controller at the sizes it is specified for: 50,000 pods that did not opt in, 10,000 opted-in
// pods in 1,000 workloads, and the largest single workload one Role holds. Every size is a
// parameter (environment variable) whose default is the specified one, so a slower machine can
// run a smaller size; the result records what ran.
import { ROLE_POD_NAMES_BUDGET_BYTES } from "../../src/access/desired.ts";
import { managedName } from "../../src/access/names.ts";
import { Deployments, Pods, ReplicaSets, Roles } from "../../src/kube/resources.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { deployment, forEachLimit, MiB, namespace, OPT_IN, RoleWatch, round, startController, until, withCluster } from "./kit.ts";

const sizeFromEnv = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, not ${JSON.stringify(raw)}`);
  return n;
};

/** Pods are created this many at a time: what the apiserver and etcd on 2 cores take without refusing (429) anything. */
const CREATE_CONCURRENCY = 48;

type OwnerRef = { apiVersion: string; kind: string; name: string; uid: string; controller: boolean };

/**
 * An opted-in Deployment (replicas 0) and a ReplicaSet it controls, made by the benchmark itself
 * (kube-controller-manager runs without those two controllers), so that the pods the benchmark
 * creates belong to the Deployment by UID exactly as the ReplicaSet controller's would.
 */
async function workloadWithReplicaSet(api: KubeApi, ns: string, d: string): Promise<OwnerRef> {
  const dep = (await api.create(Deployments, ns, deployment(d, 0))) as { metadata: { uid: string } };
  const rs = (await api.create(ReplicaSets, ns, {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: `${d}-rs`,
      labels: { app: d },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d, uid: dep.metadata.uid, controller: true }],
    },
    spec: { replicas: 0, selector: { matchLabels: { app: d } }, template: deployment(d, 0).spec.template },
  })) as { metadata: { uid: string } };
  return { apiVersion: "apps/v1", kind: "ReplicaSet", name: `${d}-rs`, uid: rs.metadata.uid, controller: true };
}

const ownedPod = (name: string, d: string, owner: OwnerRef) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: { app: d, ...OPT_IN }, ownerReferences: [owner] },
  spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
});

/** Creates `count` objects with `make(i)`, `CREATE_CONCURRENCY` at a time; returns the creates per second. */
async function createMany(count: number, make: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await forEachLimit(
    Array.from({ length: count }, (_, i) => i),
    CREATE_CONCURRENCY,
    make,
  );
  return round(count / ((performance.now() - started) / 1000));
}

export interface ForeignPodsResult {
  pods: number;
  createsPerSecond: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  extraMiB: number;
  /** The controller's podlogreader_tracked_pods after the pods were made: 0 when its pod watch is label-selected. */
  trackedPods: number;
}

/** RSS of a controller watching every namespace, before and after `FOREIGN_PODS` (50,000) bare pods without the opt-in label. */
export function foreignPods(pods = sizeFromEnv("SCALE_FOREIGN_PODS", 50_000)): Promise<ForeignPodsResult> {
  return withCluster(async (env) => {
    const ns = await namespace(env.api, "foreign");
    const ctl = await startController(env, []);
    await Bun.sleep(10_000);
    const before = ctl.memory().rss;
    const createsPerSecond = await createMany(pods, (i) =>
      env.api.create(Pods, ns, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `bare-${i}`, labels: { app: `bare-${i % 100}` } },
        spec: { containers: [{ name: "c", image: "registry.invalid/x:1" }] },
      }),
    );
    await Bun.sleep(10_000);
    const after = ctl.memory().rss;
    const trackedPods = await ctl.counter("podlogreader_tracked_pods");
    await ctl.stop();
    return { pods, createsPerSecond, rssBeforeMiB: MiB(before), rssAfterMiB: MiB(after), extraMiB: MiB(after - before), trackedPods };
  });
}

export interface OptedInResult {
  workloads: number;
  pods: number;
  createsPerSecond: number;
  /** From process start until every Role lists its pods (read from the Roles' watch). */
  coldSyncSeconds: number;
  idleRssMiB: number;
  /** RSS with the first tenth of the workloads and their pods (1,000 pods by default). */
  firstTenthRssMiB: number;
  rssMiB: number;
  peakRssMiB: number;
  /** (RSS with every pod - idle RSS) / thousands of pods: the first 1,000 pods included. */
  rssPerThousandPodsMiB: number;
  /** (RSS with every pod - RSS with the first tenth) / thousands of pods added: the cost of each further 1,000. */
  rssPerFurtherThousandPodsMiB: number;
  /** The same split in two: anonymous memory (heaps, JIT code) and pages of the executable read for the first time. */
  anonPerFurtherThousandPodsMiB: number;
  filePerFurtherThousandPodsMiB: number;
  /** (RSS with every pod - RSS with half of them) / thousands of pods added: the cost once code that runs per pod has been compiled. */
  rssPerThousandPodsOfSecondHalfMiB: number;
}

/**
 * 1,000 opted-in Deployments with 10 pods each. The controller runs four times, each from a cold
 * start: with nothing (idle), with the first 100 Deployments and their 1,000 pods, with half of
 * them, and with all of them, whose cold sync is timed. RSS is read 15 s after every Role is right.
 */
export function optedIn(
  workloads = sizeFromEnv("SCALE_WORKLOADS", 1000),
  podsPerWorkload = sizeFromEnv("SCALE_PODS_PER_WORKLOAD", 10),
): Promise<OptedInResult> {
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "optedin");
      const idleController = await startController(env, ["--namespace", ns]);
      await Bun.sleep(10_000);
      const idle = idleController.memory().rss;
      await idleController.stop();
      const list = Array.from({ length: workloads }, (_, i) => `d${i}`);
      const tenth = Math.max(1, Math.floor(workloads / 10));
      const owners = new Map<string, OwnerRef>();
      const roles = await RoleWatch.start(env.api, ns);
      /** Makes the Deployments `from` (inclusive) to `to` (exclusive) and their pods; returns creates per second. */
      const make = async (from: number, to: number) => {
        const some = list.slice(from, to);
        await forEachLimit(some, 16, async (d) => owners.set(d, await workloadWithReplicaSet(env.api, ns, d)));
        return createMany(some.length * podsPerWorkload, (i) => {
          const d = some[i % some.length]!;
          return env.api.create(Pods, ns, ownedPod(`${d}-p${Math.floor(i / some.length)}`, d, owners.get(d)!));
        });
      };
      const synced = (some: string[]) =>
        until(
          `${some.length} Roles to list ${podsPerWorkload} pods`,
          async () => (some.every((d) => roles.pods.get(managedName("Deployment", d))?.size === podsPerWorkload) ? true : undefined),
          900_000,
          100,
        );

      /** Starts the controller over the first `count` Deployments; their memory 15 s after every Role is right, and how long that took. */
      const coldStart = async (count: number) => {
        const ctl = await startController(env, ["--namespace", ns]);
        await synced(list.slice(0, count));
        const seconds = round((performance.now() - ctl.startedAt) / 1000, 2);
        await Bun.sleep(15_000);
        const memory = ctl.memory();
        await ctl.stop();
        return { seconds, memory };
      };

      await make(0, tenth);
      const { memory: firstTenth } = await coldStart(tenth);
      const half = Math.max(tenth, Math.floor(workloads / 2));
      const created = [await make(tenth, half)];
      const { memory: firstHalf } = await coldStart(half);
      created.push(await make(half, workloads));
      const { seconds: coldSyncSeconds, memory: all } = await coldStart(workloads);
      roles.stop();
      const pods = workloads * podsPerWorkload;
      /** MiB per 1,000 pods between two readings of `from` and `to` Deployments. */
      const per = (bytes: number, from: number, to: number) => round(MiB(bytes) / (((to - from) * podsPerWorkload) / 1000), 2);
      return {
        workloads,
        pods,
        createsPerSecond: round(created.reduce((a, b) => a + b, 0) / created.length, 1),
        coldSyncSeconds,
        idleRssMiB: MiB(idle),
        firstTenthRssMiB: MiB(firstTenth.rss),
        rssMiB: MiB(all.rss),
        peakRssMiB: MiB(all.peak),
        rssPerThousandPodsMiB: round(MiB(all.rss - idle) / (pods / 1000), 2),
        rssPerFurtherThousandPodsMiB: per(all.rss - firstTenth.rss, tenth, workloads),
        anonPerFurtherThousandPodsMiB: per(all.anon - firstTenth.anon, tenth, workloads),
        filePerFurtherThousandPodsMiB: per(all.file - firstTenth.file, tenth, workloads),
        rssPerThousandPodsOfSecondHalfMiB: per(all.rss - firstHalf.rss, half, workloads),
      };
    },
    { controllers: "*,-deployment,-replicaset" },
  );
}

export interface LargestWorkloadResult {
  pods: number;
  /** The pods of ROLE_POD_NAMES_BUDGET_BYTES at this name length: the specified size. */
  podsAtBudget: number;
  nameLength: number;
  createsPerSecond: number;
  /** Controller running while the pods are created: from the first create until the Role names them all. */
  liveSeconds: number;
  /** ... and after the last create. */
  liveAfterLastCreateSeconds: number;
  liveRoleWrites: number;
  /** A fresh controller with every pod already there: from process start to the Role naming them all. */
  coldSeconds: number;
  roleBytes: number;
  rssMiB: number;
}

/** One opted-in Deployment whose pods have 63-character names, up to the Role's budget (15,151). */
export function largestWorkload(): Promise<LargestWorkloadResult> {
  const nameLength = 63;
  const podsAtBudget = Math.floor(ROLE_POD_NAMES_BUDGET_BYTES / (nameLength + 3));
  const pods = sizeFromEnv("SCALE_BIG_WORKLOAD_PODS", podsAtBudget);
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "big");
      const d = "big";
      const owner = await workloadWithReplicaSet(env.api, ns, d);
      const roles = await RoleWatch.start(env.api, ns);
      const role = managedName("Deployment", d);
      let ctl = await startController(env, ["--namespace", ns]);
      await until("the empty Role", async () => (roles.pods.has(role) ? true : undefined));
      const w0 = roles.writes;
      const podName = (i: number) => `big-pod-${String(i).padStart(6, "0")}-`.padEnd(nameLength, "x");
      const started = performance.now();
      const createsPerSecond = await createMany(pods, (i) => env.api.create(Pods, ns, ownedPod(podName(i), d, owner)));
      const lastCreate = performance.now();
      await until(`the Role to name ${pods} pods`, async () => (roles.pods.get(role)?.size === pods ? true : undefined), 900_000, 50);
      const done = performance.now();
      await Bun.sleep(3000);
      const liveRoleWrites = roles.writes - w0;
      const rss = ctl.memory().rss;
      await ctl.stop();
      const live = await env.api.get(Roles, ns, role);
      const roleBytes = Buffer.byteLength(JSON.stringify(live));

      await env.api.delete(Roles, ns, role);
      await until("the Role to be gone", async () => (roles.pods.has(role) ? undefined : true));
      ctl = await startController(env, ["--namespace", ns]);
      await until(`the Role to name ${pods} pods again`, async () => (roles.pods.get(role)?.size === pods ? true : undefined), 900_000, 50);
      const coldSeconds = round((performance.now() - ctl.startedAt) / 1000, 2);
      await ctl.stop();
      roles.stop();
      return {
        pods,
        podsAtBudget,
        nameLength,
        createsPerSecond,
        liveSeconds: round((done - started) / 1000, 2),
        liveAfterLastCreateSeconds: round((done - lastCreate) / 1000, 2),
        liveRoleWrites,
        coldSeconds,
        roleBytes,
        rssMiB: MiB(rss),
      };
    },
    { controllers: "*,-deployment,-replicaset" },
  );
}

export interface ScaleResult {
  foreignPods?: ForeignPodsResult;
  optedIn?: OptedInResult;
  largestWorkload?: LargestWorkloadResult;
}

/** SCALE_ONLY=foreign,optedin,largest runs a subset. */
export async function scaleScenarios(log: (msg: string) => void): Promise<ScaleResult> {
  const only = process.env.SCALE_ONLY?.split(",");
  const want = (name: string) => !only || only.includes(name);
  const result: ScaleResult = {};
  if (want("foreign")) {
    log("scale: pods that did not opt in");
    result.foreignPods = await foreignPods();
  }
  if (want("optedin")) {
    log("scale: opted-in pods in many workloads, cold sync");
    result.optedIn = await optedIn();
  }
  if (want("largest")) {
    log("scale: the largest workload one Role holds");
    result.largestWorkload = await largestWorkload();
  }
  return result;
}

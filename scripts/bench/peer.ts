// podlogreader against a controller-runtime peer (scripts/bench/peer: the same job written the way
// a Go team would, with a label-selected pod cache, one Role per opted-in Deployment naming its
// pods through their ReplicaSets, 4 workers), one controller at a time on a fresh cluster each,
// runs interleaved, medians reported. The scenario: 100 opted-in Deployments created with one pod,
// scaled to 5, back to 1, then rolled out; kwok runs the pods, so their status changes reach the
// controllers as a real kubelet's would.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { managedName } from "../../src/access/names.ts";
import { Deployments } from "../../src/kube/resources.ts";
import { freePort } from "../harness/net.ts";
import { IMAGE_ENV } from "../image/env.ts";
import { binary, deployment, forEachLimit, MiB, namespace, RoleWatch, round, scale, until, withCluster, type Env } from "./kit.ts";

type Who = "podlogreader" | "peer";

export interface PeerRun {
  controller: Who;
  /** Seconds from the change until every Role is right: create, 1 -> 5, 5 -> 1, rollout. */
  convergeSeconds: { create: number; scaleUp: number; scaleDown: number; rollout: number };
  roleWrites: number;
  /** Role writes during each step, from its change until every Role is right (late writes are in none). */
  roleWritesBy: { create: number; scaleUp: number; scaleDown: number; rollout: number };
  /** Requests on roles as the apiserver counted them (apiserver_request_total), by "VERB code". */
  apiserverRoleRequests: Record<string, number>;
  /** Every request the controller sent, by verb, as its own client counted them. */
  clientRequests: Record<string, number>;
  cpuSeconds: number;
  peakRssMiB: number;
}

export interface PeerResult {
  deployments: number;
  runs: PeerRun[];
  medians: Partial<
    Record<
      Who,
      Omit<PeerRun, "controller" | "apiserverRoleRequests" | "clientRequests"> & { apiserverRoleRequests: number; clientRequests: number }
    >
  >;
}

/** Builds the peer (cached) and returns its path. */
function peerBinary(): string {
  const script = resolve(import.meta.dir, "peer/build.sh");
  const result = spawnSync("bash", [script], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${script} failed with exit code ${result.status}`);
  return result.stdout.trim().split("\n").at(-1)!;
}

interface Running {
  pid: number;
  cpuSeconds(): number;
  peakRss(): number;
  /** The controller's own count of its requests, by verb, from its /metrics. */
  requests(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

async function start(who: Who, env: Env, ns: string, peer: string): Promise<Running> {
  const [metrics, probes] = [await freePort(), await freePort()];
  // The same flags for both, controller-runtime's.
  const args = [
    who === "podlogreader" ? binary : peer,
    "--kubeconfig",
    env.cluster.kubeconfig,
    "--namespace",
    ns,
    "--metrics-bind-address",
    `127.0.0.1:${metrics}`,
    "--health-probe-bind-address",
    `127.0.0.1:${probes}`,
    ...(who === "podlogreader" ? ["--log-level", process.env.PEER_LOG_LEVEL ?? "warn"] : ["--zap-log-level", "error"]),
  ];
  // podlogreader as the chart runs it, with the image's environment.
  const proc = Bun.spawn(args, {
    stdin: "ignore",
    stdout: "inherit",
    stderr: "inherit",
    env: who === "podlogreader" ? { ...process.env, ...IMAGE_ENV } : process.env,
  });
  const ready = `http://127.0.0.1:${probes}/readyz`;
  await until(
    `${who}'s /readyz`,
    async () =>
      (await fetch(ready).then(
        (r) => r.ok,
        () => false,
      )) || undefined,
    60_000,
  );
  const stat = () => readFileSync(`/proc/${proc.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const status = (field: string) =>
    Number(readFileSync(`/proc/${proc.pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0) * 1024;
  return {
    pid: proc.pid,
    // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks of 1/100 s.
    cpuSeconds: () => (Number(stat()[11]) + Number(stat()[12])) / 100,
    peakRss: () => status("VmHWM"),
    async requests() {
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      const byVerb: Record<string, number> = {};
      for (const line of text.split("\n")) {
        if (!line.startsWith("rest_client_requests_total{")) continue;
        const verb = /method="([^"]+)"/.exec(line)?.[1] ?? "?";
        byVerb[verb] = (byVerb[verb] ?? 0) + Number(line.split(" ").at(-1));
      }
      return byVerb;
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** apiserver_request_total for roles, by "VERB code". */
async function apiserverRoleRequests(env: Env): Promise<Record<string, number>> {
  const text = await (await env.api.transport.request({ path: "/metrics", accept: "text/plain" })).text();
  const byVerb: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{") || !line.includes('resource="roles"')) continue;
    const key = `${/verb="([^"]+)"/.exec(line)?.[1] ?? "?"} ${/code="([^"]+)"/.exec(line)?.[1] ?? "?"}`;
    byVerb[key] = (byVerb[key] ?? 0) + Number(line.split(" ").at(-1));
  }
  return byVerb;
}

const minus = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(a)
      .map(([k, v]) => [k, v - (b[k] ?? 0)])
      .filter(([, v]) => (v as number) > 0),
  );

function runOnce(who: Who, deployments: number, peer: string): Promise<PeerRun> {
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "peer");
      const list = Array.from({ length: deployments }, (_, i) => `d${i}`);
      const roles = await RoleWatch.start(env.api, ns);
      const before = await apiserverRoleRequests(env);
      const ctl = await start(who, env, ns, peer);
      const role = (d: string) => managedName("Deployment", d);
      const writesBy: Record<string, number> = {};
      const converge = async (what: string, change: () => Promise<void>, done: (d: string) => boolean) => {
        const t0 = performance.now();
        const w0 = roles.writes;
        await change();
        await until(what, async () => (list.every(done) ? true : undefined), 600_000, 50);
        writesBy[what] = roles.writes - w0;
        return round((performance.now() - t0) / 1000, 2);
      };
      const listing = (n: number) => (d: string) => roles.pods.get(role(d))?.size === n;
      const create = await converge(
        "the Roles of the new Deployments",
        () => forEachLimit(list, 32, (d) => env.api.create(Deployments, ns, deployment(d, 1))),
        listing(1),
      );
      const scaleUp = await converge("the scale-up", () => forEachLimit(list, 32, (d) => scale(env.api, ns, d, 5)), listing(5));
      const scaleDown = await converge("the scale-down", () => forEachLimit(list, 32, (d) => scale(env.api, ns, d, 1)), listing(1));
      const old = new Map(list.map((d) => [d, [...(roles.pods.get(role(d)) ?? [])][0]]));
      const rollout = await converge(
        "the rollout",
        () =>
          forEachLimit(list, 32, (d) =>
            env.api.mergePatch(
              Deployments,
              ns,
              d,
              { spec: { template: { metadata: { annotations: { rollout: "2" } } } } },
              { fieldManager: "podlogreader-bench" },
            ),
          ),
        (d) => listing(1)(d) && !roles.pods.get(role(d))!.has(old.get(d)!),
      );
      await Bun.sleep(5000); // late writes count too
      const result: PeerRun = {
        controller: who,
        convergeSeconds: { create, scaleUp, scaleDown, rollout },
        roleWrites: roles.writes,
        roleWritesBy: {
          create: writesBy["the Roles of the new Deployments"]!,
          scaleUp: writesBy["the scale-up"]!,
          scaleDown: writesBy["the scale-down"]!,
          rollout: writesBy["the rollout"]!,
        },
        apiserverRoleRequests: minus(await apiserverRoleRequests(env), before),
        clientRequests: await ctl.requests(),
        cpuSeconds: ctl.cpuSeconds(),
        peakRssMiB: MiB(ctl.peakRss()),
      };
      await ctl.stop();
      roles.stop();
      return result;
    },
    { nodes: 1 },
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2, 2);
};
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** PEER_RUNS (default 3) runs of each controller, alternating which goes first. */
export async function peerComparison(
  log: (msg: string) => void,
  deployments = Number(process.env.PEER_DEPLOYMENTS ?? 100),
  runs = Number(process.env.PEER_RUNS ?? 3),
): Promise<PeerResult> {
  const peer = peerBinary();
  const all: PeerRun[] = [];
  // PEER_CONTROLLERS=podlogreader (or peer) runs one side only, to try a change quickly.
  const only = process.env.PEER_CONTROLLERS?.split(",");
  for (let i = 0; i < runs; i++) {
    const order: Who[] = i % 2 ? ["peer", "podlogreader"] : ["podlogreader", "peer"];
    for (const who of order.filter((w) => !only || only.includes(w))) {
      log(`peer: run ${i + 1}/${runs}, ${who}`);
      all.push(await runOnce(who, deployments, peer));
    }
  }
  const summary = (who: Who) => {
    const mine = all.filter((r) => r.controller === who);
    const m = (f: (r: PeerRun) => number) => median(mine.map(f));
    return {
      convergeSeconds: {
        create: m((r) => r.convergeSeconds.create),
        scaleUp: m((r) => r.convergeSeconds.scaleUp),
        scaleDown: m((r) => r.convergeSeconds.scaleDown),
        rollout: m((r) => r.convergeSeconds.rollout),
      },
      roleWrites: m((r) => r.roleWrites),
      roleWritesBy: {
        create: m((r) => r.roleWritesBy.create),
        scaleUp: m((r) => r.roleWritesBy.scaleUp),
        scaleDown: m((r) => r.roleWritesBy.scaleDown),
        rollout: m((r) => r.roleWritesBy.rollout),
      },
      apiserverRoleRequests: m((r) => total(r.apiserverRoleRequests)),
      clientRequests: m((r) => total(r.clientRequests)),
      cpuSeconds: m((r) => r.cpuSeconds),
      peakRssMiB: m((r) => r.peakRssMiB),
    };
  };
  const ran = (["podlogreader", "peer"] as const).filter((who) => all.some((r) => r.controller === who));
  return { deployments, runs: all, medians: Object.fromEntries(ran.map((who) => [who, summary(who)])) as PeerResult["medians"] };
}

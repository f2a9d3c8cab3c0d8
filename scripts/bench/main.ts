// `make bench`: runs every scenario on a fresh control plane with the compiled binary, prints a
// table, and writes the figures as JSON ($BENCH_OUT, default bench/results.json) and a latency CDF
// as SVG beside it. BENCH_ONLY=NAME,... runs a subset: the names are those of SCENARIOS below.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { auditScale, type AuditBenchResult } from "./audit.ts";
import { replay, type ReplayResult } from "./replay.ts";
import { scaleScenarios, type ScaleResult } from "./scale.ts";
import { clients, type ClientsResult } from "./clients.ts";
import { peerComparison, type PeerResult } from "./peer.ts";
import { idle, type IdleResult } from "./idle.ts";
import { authorizerBench, type AuthorizerResult } from "./authorizer.ts";
import { dropExecutableFromPageCache } from "./kit.ts";
import { IMAGE_ENV } from "../image/env.ts";
import {
  latency,
  memory,
  startup,
  throughput,
  writes,
  type LatencyResult,
  type MemoryResult,
  type StartupResult,
  type ThroughputStep,
  type WritesResult,
} from "./scenarios.ts";

const repo = resolve(import.meta.dir, "../..");
const out = process.env.BENCH_OUT ?? join(repo, "bench", "results.json");
const only = process.env.BENCH_ONLY?.split(",");
const want = (name: string) => !only || only.includes(name);
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

type LatencySummary = Omit<LatencyResult, "upSamples" | "downSamples">;
interface Results {
  machine: { cores: number; memoryGiB: number; cpu?: string };
  kubernetes: string;
  debounce: string;
  /**
   * What the compiled controller ran with beyond the machine's environment (idle also runs without it; the replay runs in this process,
   * with its environment).
   */
  controllerEnv: Readonly<Record<string, string>>;
  date: string;
  latency?: LatencySummary[];
  writes?: WritesResult;
  memory?: MemoryResult;
  startup?: StartupResult;
  throughput?: ThroughputStep[];
  audit?: AuditBenchResult;
  replay?: ReplayResult;
  scale?: ScaleResult;
  clients?: ClientsResult;
  /** The same clients, with --role-pod-names=none and the webhook authorizer. */
  clientsAuthorizer?: ClientsResult;
  peer?: PeerResult;
  idle?: IdleResult;
  authorizer?: AuthorizerResult;
}

dropExecutableFromPageCache();

const results: Results = {
  machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), cpu: cpus()[0]?.model },
  kubernetes: "v1.37.2",
  debounce: "250ms (default)",
  controllerEnv: IMAGE_ENV,
  date: new Date().toISOString(),
};

/** Every scenario, in the order a full run takes them: its name for BENCH_ONLY, what it does, and how it fills `results`. */
const SCENARIOS: { name: string; about?: string; run(): Promise<void> }[] = [
  {
    name: "latency",
    run: async () => {
      const runs: LatencyResult[] = [];
      for (const [n, rounds] of [
        [1, 20],
        [10, 10],
        [100, 5],
      ] as const) {
        log(`latency: ${n} Deployment(s), ${rounds} rounds`);
        runs.push(await latency(n, rounds));
      }
      results.latency = runs.map(({ upSamples: _u, downSamples: _d, ...r }) => r);
      writeCdf(join(dirname(out), "latency-cdf.svg"), runs.at(-1)!);
    },
  },
  {
    name: "writes",
    about: "0 -> 100 -> 0, resync, restart",
    run: async () => {
      results.writes = await writes();
    },
  },
  {
    name: "memory",
    about: "idle, 10,000 foreign pods, 1,000 opted-in pods",
    run: async () => {
      results.memory = await memory();
    },
  },
  {
    name: "startup",
    about: "500 Deployments x 4 pods",
    run: async () => {
      results.startup = await startup();
    },
  },
  {
    name: "throughput",
    about: "rising pod change rates",
    run: async () => {
      results.throughput = await throughput();
    },
  },
  {
    name: "audit",
    about: "10,000 pods in 100 Deployments",
    run: async () => {
      results.audit = await auditScale();
    },
  },
  {
    name: "idle",
    about: "100 opted-in Deployments in sync, 60 s of nothing, without and with --leader-elect, bare and with the image's environment",
    run: async () => {
      results.idle = await idle();
    },
  },
  {
    name: "replay",
    about: "a recorded pod watch stream, replayed in-process against a fake apiserver",
    run: async () => {
      results.replay = await replay();
    },
  },
  {
    name: "scale",
    run: async () => {
      results.scale = await scaleScenarios(log);
    },
  },
  {
    name: "clients",
    about: "kubectl logs -l as each workload's ServiceAccount during scale-ups and rollouts",
    run: async () => {
      results.clients = await clients();
    },
  },
  {
    name: "clients-authorizer",
    about: "the same, with --role-pod-names=none: the apiserver asks the webhook authorizer about each read",
    run: async () => {
      results.clientsAuthorizer = await clients(undefined, undefined, undefined, undefined, "none");
    },
  },
  {
    name: "peer",
    run: async () => {
      results.peer = await peerComparison(log);
    },
  },
  {
    name: "authorizer",
    run: async () => {
      results.authorizer = await authorizerBench(log);
    },
  },
];

const unknown = only?.filter((name) => !SCENARIOS.some((s) => s.name === name)) ?? [];
if (unknown.length > 0) {
  log(`BENCH_ONLY names no scenario: ${unknown.join(", ")}; the scenarios are ${SCENARIOS.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
for (const scenario of SCENARIOS) {
  if (!want(scenario.name)) continue;
  if (scenario.about) log(`${scenario.name}: ${scenario.about}`);
  await scenario.run();
}

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
printTable(results);
log(`written to ${out}`);

function printTable(r: Results): void {
  const rows: [string, string][] = [];
  for (const l of r.latency ?? []) {
    rows.push([
      `latency up, ${l.deployments} Deployment(s) (p50/p95/p99 ms)`,
      `${l.upMs.p50} / ${l.upMs.p95} / ${l.upMs.p99}  (${l.upMs.samples} pods)`,
    ]);
    rows.push([
      `latency down, ${l.deployments} Deployment(s) (p50/p95/p99 ms)`,
      `${l.downMs.p50} / ${l.downMs.p95} / ${l.downMs.p99}  (${l.downMs.samples} pods)`,
    ]);
  }
  if (r.writes) {
    rows.push(["Role writes, 0 -> 100 (API requests)", `${r.writes.scaleUp.roleWrites} (${r.writes.scaleUp.apiRequests})`]);
    rows.push(["Role writes, 100 -> 0 (API requests)", `${r.writes.scaleDown.roleWrites} (${r.writes.scaleDown.apiRequests})`]);
    rows.push(["Role writes, 5 resyncs / a restart, nothing changed", `${r.writes.resyncWrites} / ${r.writes.restartWrites}`]);
  }
  if (r.memory) {
    rows.push([
      "RSS idle (anonymous + executable pages) / peak (MiB)",
      `${r.memory.idleMiB} (${r.memory.idleAnonMiB} + ${r.memory.idleFileMiB}) / ${r.memory.peakMiB}`,
    ]);
    rows.push(["RSS added by 10,000 pods not opted in (MiB)", `${r.memory.extraFor10kForeignPodsMiB}`]);
    rows.push([
      "RSS per 1,000 opted-in pods, first / each further (MiB)",
      `${r.memory.firstThousandOptedInPodsMiB} / ${r.memory.perThousandOptedInPodsMiB}`,
    ]);
  }
  if (r.startup) rows.push([`startup, ${r.startup.pods} pods in ${r.startup.deployments} Deployments (s)`, `${r.startup.seconds}`]);
  for (const t of r.throughput ?? []) {
    const errors = Object.entries(t.generatorErrors ?? {})
      .map(([k, n]) => `${n}x ${k}`)
      .join(", ");
    rows.push([
      `throughput ${t.targetPerSecond}/s: achieved, lag p99, settle`,
      [
        `${t.achievedPerSecond}/s, ${t.lagP99Ms} ms, ${t.settleSeconds} s`,
        t.bounded ? "" : "  (unbounded)",
        errors ? `  generator errors: ${errors}` : "",
        t.benchWatchRestarts ? `  the benchmark's watches resumed ${t.benchWatchRestarts} time(s)` : "",
        t.benchWatchGaps ? `, lost events ${t.benchWatchGaps} time(s)` : "",
      ].join(""),
    ]);
  }
  if (r.audit)
    rows.push([
      `audit, ${r.audit.pods} pods in ${r.audit.workloads} workloads (s, reviews)`,
      `${r.audit.seconds} (${r.audit.reviews}), exit ${r.audit.exitCode}`,
    ]);
  for (const run of r.replay?.runs ?? []) {
    rows.push([
      `replay ${run.mode}, ${run.offeredPerSecond ? `${run.offeredPerSecond}/s` : "all at once"}: CPU ms per 1,000 pod events, pod ` +
        `events per CPU-s`,
      `${run.cpuMsPer1000PodEvents}, ${run.podEventsPerCpuSecond}  (${run.podEvents} of ${run.events} events, ` +
        `${JSON.stringify(run.writes)})`,
    ]);
  }
  const f = r.scale?.foreignPods;
  if (f)
    rows.push([
      `scale: RSS before / after ${f.pods} pods not opted in (MiB)`,
      `${f.rssBeforeMiB} / ${f.rssAfterMiB} (+${f.extraMiB}), tracked pods ${f.trackedPods}`,
    ]);
  const o = r.scale?.optedIn;
  if (o) {
    rows.push([
      `scale: ${o.pods} opted-in pods in ${o.workloads} workloads: cold sync (s), RSS (MiB), per 1,000`,
      `${o.coldSyncSeconds}, ${o.rssMiB} (idle ${o.idleRssMiB}, peak ${o.peakRssMiB}), ${o.rssPerThousandPodsMiB}`,
    ]);
    rows.push([
      `scale: RSS with the first tenth of those pods (MiB), per further 1,000 (anonymous + executable pages)`,
      `${o.firstTenthRssMiB}, ${o.rssPerFurtherThousandPodsMiB} (${o.anonPerFurtherThousandPodsMiB} + ` +
        `${o.filePerFurtherThousandPodsMiB}); ${o.rssPerThousandPodsOfSecondHalfMiB} per 1,000 of the second half`,
    ]);
  }
  const b = r.scale?.largestWorkload;
  if (b)
    rows.push([
      `scale: one workload of ${b.pods} pods (${b.nameLength}-char names): live / cold (s), Role bytes`,
      `${b.liveSeconds} (${b.liveAfterLastCreateSeconds} after the last create, ${b.liveRoleWrites} writes) / ${b.coldSeconds}, ` +
        `${b.roleBytes}`,
    ]);
  for (const [name, c] of [
    ["clients", r.clients],
    ["clients-authorizer", r.clientsAuthorizer],
  ] as const) {
    if (!c) continue;
    rows.push([
      `${name}: kubectl logs -l refused with Forbidden / runs (--role-pod-names=${c.rolePodNames})`,
      `${c.forbidden} / ${c.runs} (${c.forbidden - c.forbiddenGone} on pods that existed, ${c.forbiddenTerminating} of them pods ` +
        `being deleted, ${c.forbiddenGone} of those already gone; other failures ${c.otherFailures}; ${c.workloads} workloads, ` +
        `${c.clients} clients, ${c.seconds} s${c.debounce ? `, --debounce ${c.debounce}` : ""})`,
    ]);
    rows.push([
      `${name}: the same, each right after, with every pod's logs granted: failed / runs`,
      `${c.namespaceWide.failures} / ${c.namespaceWide.runs}`,
    ]);
    if (c.runMs)
      rows.push([
        `${name}: one kubectl run, own / namespace-wide (p50/p99 ms)`,
        `${c.runMs.own.p50} / ${c.runMs.own.p99}, ${c.runMs.namespaceWide.p50} / ${c.runMs.namespaceWide.p99}`,
      ]);
  }
  for (const [who, m] of Object.entries(r.peer?.medians ?? {})) {
    const t = m.convergeSeconds;
    rows.push([
      `peer, ${who} (medians): converge create/up/down/rollout (s)`,
      `${t.create} / ${t.scaleUp} / ${t.scaleDown} / ${t.rollout}`,
    ]);
    const w = m.roleWritesBy;
    rows.push([
      `peer, ${who} (medians): Role writes in create/up/down/rollout`,
      `${w.create} / ${w.scaleUp} / ${w.scaleDown} / ${w.rollout}`,
    ]);
    rows.push([
      `peer, ${who} (medians): Role writes, roles requests (apiserver), all requests (client), CPU-s, peak RSS MiB`,
      `${m.roleWrites}, ${m.apiserverRoleRequests}, ${m.clientRequests}, ${m.cpuSeconds}, ${m.peakRssMiB}`,
    ]);
  }
  for (const i of r.idle?.runs ?? []) {
    rows.push([
      `idle, ${r.idle!.deployments} ` +
        `Deployments${i.leaderElect ? ", --leader-elect" : ""}${i.imageEnv ? ", the image's environment" : ""}: CPU ms/s, ` +
        `wake-ups/s, API requests, RSS MiB`,
      `${i.cpuMsPerSecond}, ${i.wakeupsPerSecond}, ${i.apiRequests} in ${i.seconds} s, ${i.rssMiB}`,
    ]);
  }
  const a = r.authorizer;
  if (a) {
    const p = (x: { p50: number; p99: number }) => `${x.p50} / ${x.p99}`;
    const i = a.inProcess;
    rows.push([`authorizer: load average before / after`, `${a.loadAverage.before} / ${a.loadAverage.after}`]);
    rows.push([
      `authorizer in-process, ${i.pods} pods in ${i.workloads} workloads: get pods/log, list -l, get with parse (p50/p99 µs)`,
      `${p(i.getLogUs)}, ${p(i.listBySelectorUs)}, ${p(i.getLogWithParseUs)}`,
    ]);
    for (const ph of a.throughApiserver.phases) {
      const cpu = Object.entries(ph.cpuMsPerReview)
        .map(([k, ms]) => `${k} ${ms}`)
        .join(", ");
      rows.push([
        `authorizer at ${ph.offeredPerSecond}/s, ${ph.path}: ${ph.name.split(" (")[0]} (p50/p99 ms)`,
        `${p(ph.ms)}  (achieved ${ph.achievedPerSecond}/s, ${ph.allowed} of ${ph.reviews} allowed, ${ph.errors} ` +
          `errors${ph.firstError ? ` (first: ${ph.firstError})` : ""}; CPU ms per review: ${cpu})`,
      ]);
    }
    const k = a.kubectlLogs;
    rows.push([
      `authorizer: kubectl logs POD, webhook / RBAC (p50/p99 ms)`,
      `${p(k.webhookMs)} / ${p(k.rbacMs)}  (added at p50 ${k.addedP50Ms} ms, ${k.runs} runs each, ${k.failures} failures)`,
    ]);
    rows.push([
      `authorizer: GET pods/POD/log, webhook / RBAC (p50/p99 ms)`,
      `${p(k.logGet.webhookMs)} / ${p(k.logGet.rbacMs)}  (added ${k.logGet.addedP50Ms} at p50, ${k.logGet.addedP99Ms} at p99; ` +
        `${k.logGet.runs} runs each)`,
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  const env = Object.entries(r.controllerEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const machine = `${r.machine.cores} cores, ${r.machine.memoryGiB} GiB`;
  console.log(`\n${machine}, Kubernetes ${r.kubernetes}, debounce ${r.debounce}, controller environment ${env}\n`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

/** An SVG of the cumulative distribution of up and down latencies. */
function writeCdf(file: string, run: LatencyResult): void {
  const [w, h, pad] = [640, 360, 48];
  const all = [...run.upSamples, ...run.downSamples];
  const maxX = Math.max(1, ...all) * 1.05;
  const x = (ms: number) => pad + (ms / maxX) * (w - 2 * pad);
  const y = (q: number) => h - pad - q * (h - 2 * pad);
  const path = (samples: number[]) => {
    const s = [...samples].sort((a, b) => a - b);
    return s.map((v, i) => `${i ? "L" : "M"}${x(v).toFixed(1)},${y((i + 1) / s.length).toFixed(1)}`).join(" ");
  };
  const ticks = Array.from({ length: 6 }, (_, i) => (maxX / 5) * i);
  const title = `Pod event to Role, ${run.deployments} Deployments changing at once (debounce 250 ms)`;
  const quantileLine = (q: number) =>
    `<text x="${pad - 6}" y="${y(q) + 4}" text-anchor="end">${q}</text>` +
    `<line x1="${pad}" y1="${y(q)}" x2="${w - pad}" y2="${y(q)}" stroke="#ddd"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="black"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="black"/>
${ticks.map((t) => `<text x="${x(t)}" y="${h - pad + 16}" text-anchor="middle">${Math.round(t)}</text>`).join("\n")}
${[0, 0.5, 0.99, 1].map(quantileLine).join("\n")}
<text x="${w / 2}" y="${h - 10}" text-anchor="middle">milliseconds</text>
<path d="${path(run.upSamples)}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<path d="${path(run.downSamples)}" fill="none" stroke="#d62728" stroke-width="2"/>
<text x="${w - pad - 150}" y="${pad + 10}" fill="#1f77b4">up: pod seen → name listed</text>
<text x="${w - pad - 150}" y="${pad + 26}" fill="#d62728">down: pod deleted → name gone</text>
</svg>
`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
}

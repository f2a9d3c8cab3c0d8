// The chaos run as a function: a fresh control plane whose apiserver calls the webhook authorizer
// (through authorizer-front.ts), two replicas of the compiled controller serving it, bursts of
// seeded operations, and the checks at quiescence after each burst. Everything it starts is
// stopped when it returns or throws, and on SIGINT/SIGTERM.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import { Leases, Namespaces } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { startCluster, stopCluster } from "../harness/controlplane.ts";
import { freePort } from "../harness/net.ts";
import { AuthorizerFront } from "./authorizer-front.ts";
import { eventually } from "../harness/poll.ts";
import { Authorizer } from "./authorizer.ts";
import { CHECK_TYPES, settleAndCheck, type Violation, type ViolationType } from "./checks.ts";
import { ForeignRecord } from "./foreign.ts";
import { GrantLedger } from "./grant-ledger.ts";
import { create, getObject } from "./kube.ts";
import { isManaged, type Snapshot } from "./model.ts";
import { Monitor, type Window } from "./monitor.ts";
import { execute, INTRUDER, type OpContext } from "./ops.ts";
import { ALL_KINDS, bursts, universe, type OpType } from "./plan.ts";
import { describeRefusal } from "./refusals.ts";
import { Random } from "./random.ts";
import { Replicas } from "./replicas.ts";
import type { ChaosReport, OpCounts } from "./report.ts";
import { judgeWindow, Timeline } from "./timeline.ts";
import { RefusalWebhook } from "./webhook.ts";
import { WebhookFaults } from "./webhook-faults.ts";

/**
 * How long a grant may outlive its pod: README, "How soon a grant ends", gives the removal p99 as
 * tens of milliseconds, at most 114.9 ms across runs on 2 cores.
 */
export const README_REACTION_MS = 115;

/** Operations that leave the controller without a live leader or without watches for a while. */
const DISTURBING = new Set<OpType>([
  "kill-replica",
  "kill-leader",
  "pause-replica",
  "restart-apiserver",
  "write-storm",
  "pause-leader-mid-write",
  "grant-then-pause-leader",
]);

const repo = resolve(import.meta.dir, "../..");

export interface ChaosOptions {
  seed: number;
  /** Run at least this many operations... */
  ops: number;
  /** ...and for at least this long. The run ends at the first burst boundary after both. */
  durationMs: number;
  settleTimeoutMs?: number;
  /** Upper bound on one SIGSTOP pause of a replica. */
  maxPauseSeconds?: number;
  binary?: string;
  /** Where the controller replicas' logs go. */
  logDir?: string;
  log?: (line: string) => void;
  /** End the run after the first burst whose checks found a violation (for the test suite). */
  stopOnViolation?: boolean;
  /** How long a grant may outlive its reason (default README_REACTION_MS). */
  reactionMs?: number;
  /** The replicas' --role-pod-names (default: rolePodNamesFor(seed)). */
  rolePodNames?: "names" | "none";
}

/** Odd seeds run with --role-pod-names=none (only the webhook grants pods), even seeds with names. */
export function rolePodNamesFor(seed: number): "names" | "none" {
  return seed % 2 === 1 ? "none" : "names";
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`chaos: ${line}\n`));
  const logDir = options.logDir ?? join(repo, "chaos", "logs");
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-chaos-"));
  let replicas: Replicas | undefined;
  let webhook: RefusalWebhook | undefined;
  let front: AuthorizerFront | undefined;
  const cleanUp = () => {
    replicas?.killAllNow();
    webhook?.stop();
    front?.stop();
    stopCluster(dir);
  };
  const onSignal = () => {
    cleanUp();
    process.exit(130);
  };
  process.once("exit", cleanUp);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    log(`seed ${options.seed}: starting a control plane in ${dir}`);
    const cluster = await startCluster(dir, undefined, { authorizer: true });
    const setup = cluster.authorizer!;
    const rolePodNames = options.rolePodNames ?? rolePodNamesFor(options.seed);
    // Each replica serves the webhook on a port of its own; the apiserver calls the front.
    const replicaPorts = [await freePort(), await freePort()];
    front = new AuthorizerFront(setup, replicaPorts);
    const api = new KubeApi(new Transport(loadConnection({ kubeconfig: cluster.kubeconfig })));
    const namespaces = ["chaos-0", "chaos-1"];
    const lease = { namespace: "chaos-system", name: "podlogreader" };
    for (const name of [...namespaces, lease.namespace])
      await create(api, Namespaces, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    const binary = options.binary ?? join(repo, "dist", "podlogreader");
    replicas = new Replicas({
      binary,
      kubeconfig: cluster.kubeconfig,
      namespaces,
      leaseNamespace: lease.namespace,
      leaseName: lease.name,
      logDir,
      args: (i) => [
        `--role-pod-names=${rolePodNames}`,
        `--authorizer-addr=127.0.0.1:${replicaPorts[i]}`,
        `--authorizer-tls-cert-file=${setup.certFile}`,
        `--authorizer-tls-key-file=${setup.keyFile}`,
        `--authorizer-client-ca-file=${setup.clientCaFile}`,
      ],
    });
    await waitForLeader(api, lease);
    webhook = RefusalWebhook.start(dir);
    log(
      `replicas run with --role-pod-names=${rolePodNames}; the apiserver calls the webhook authorizer at 127.0.0.1:${setup.port}, ` +
        `forwarded to ${replicaPorts.join(", ")}`,
    );
    return await runBursts(options, {
      api,
      cluster,
      binary,
      replicas,
      namespaces,
      lease,
      log,
      opLog: join(logDir, "ops.log"),
      webhook,
      front,
      rolePodNames,
    });
  } finally {
    process.off("exit", cleanUp);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await replicas?.stop();
    webhook?.stop();
    front?.stop();
    stopCluster(dir);
  }
}

async function waitForLeader(api: KubeApi, lease: { namespace: string; name: string }): Promise<void> {
  await eventually(
    "a controller replica to become the leader (see the replica logs)",
    async () => (await getObject<{ spec?: { holderIdentity?: string } }>(api, Leases, lease.namespace, lease.name)).spec?.holderIdentity,
    60_000,
    250,
  );
}

interface Env {
  api: KubeApi;
  cluster: OpContext["cluster"];
  /** dist/podlogreader: the replicas, and the grant and revoke commands. */
  binary: string;
  replicas: Replicas;
  namespaces: string[];
  lease: { namespace: string; name: string };
  log: (line: string) => void;
  /** Every operation, its outcome and detail, one a line. */
  opLog: string;
  webhook: RefusalWebhook;
  front: AuthorizerFront;
  rolePodNames: "names" | "none";
}

async function runBursts(options: ChaosOptions, env: Env): Promise<ChaosReport> {
  const { api, replicas, namespaces, log } = env;
  const started = Date.now();
  const u = universe(namespaces);
  const poolNames = ALL_KINDS.flatMap((k) => u.names.map((n) => managedName(k, n)));
  const serviceAccountsOf = (_ns: string, s?: Snapshot) => [
    ...poolNames,
    INTRUDER,
    ...(s?.serviceAccounts.filter((a) => isManaged(a.metadata)).map((a) => a.metadata!.name!) ?? []),
  ];
  const authorizer = new Authorizer(api);
  const foreign = new ForeignRecord();
  const monitor = new Monitor(api, authorizer, namespaces, (ns) => serviceAccountsOf(ns), managedName, env.rolePodNames === "names");
  const webhookFaults = new WebhookFaults(
    { api, authorizer, front: env.front, namespaces, serviceAccountsOf, nameOf: managedName, seed: options.seed, log },
    env.rolePodNames,
  );
  await monitor.start();
  const timeline = new Timeline();
  const grants = new GrantLedger(api, authorizer, timeline);
  grants.start();
  const reactionMs = options.reactionMs ?? README_REACTION_MS;
  const ctx: OpContext = {
    api,
    cluster: env.cluster,
    replicas,
    foreign,
    lease: env.lease,
    maxPauseSeconds: options.maxPauseSeconds ?? 60,
    namespaces,
    findings: [],
    timeline,
    webhook: env.webhook,
    webhookFaults,
    grants,
    cli: { binary: env.binary, kubeconfig: env.cluster.kubeconfig },
  };
  const checkCtx = {
    api,
    authorizer,
    namespaces,
    serviceAccountsOf,
    nameOf: managedName,
    foreign,
    settleTimeoutMs: options.settleTimeoutMs ?? 120_000,
    seed: options.seed,
    period: () => (ctx.refusal ? timeline.periods.at(-1) : undefined),
    refusalReports: () => replicas.refusalReports,
    rolesNamePods: env.rolePodNames === "names",
  };
  /** Over- and stale-grant windows that outlived their allowance (timeline.ts). */
  const judgeWindows = (windows: Window[], burst: number): Violation[] =>
    windows.flatMap((w) => {
      if (w.kind === "under-grant" || w.lastAllowedAt === undefined) return [];
      const verdict = judgeWindow(
        { kind: w.kind, startedAt: w.startedAt, lastAllowedAt: w.lastAllowedAt },
        timeline,
        reactionMs,
        Date.now(),
      );
      if (!verdict) return [];
      checks[w.kind]++;
      if (verdict.judgedMs <= verdict.allowanceMs) return [];
      const during = verdict.period
        ? ` during ${describeRefusal(verdict.period.refusal)} (op ${verdict.period.opIndex}), which leaves a way out`
        : "";
      return [
        {
          type: w.kind,
          seed: options.seed,
          opIndex: w.opIndex,
          burst,
          namespace: w.namespace,
          serviceAccount: w.serviceAccount,
          pod: w.pod,
          detail:
            `${w.kind === "stale-grant" ? "the pod's name stayed readable after the pod went" : "readable outside its workload"} ` +
            "for " +
            `at least ${(verdict.judgedMs / 1000).toFixed(2)}s beyond what is excused (${(verdict.excusedMs / 1000).toFixed(2)}s ` +
            `without a leader or without a way out), allowed ${(verdict.allowanceMs / 1000).toFixed(2)}s${during}`,
        },
      ];
    });

  /** Subjects of ended grants that still read something past their deadline (grants.ts, rule 2). */
  const endedGrantReads = (burst: number): Violation[] =>
    grants.found.splice(0).map((f) => ({ type: "ended-grant", seed: options.seed, burst, ...f }));

  const counts: Partial<Record<OpType, OpCounts>> = {};
  const checks = Object.fromEntries(CHECK_TYPES.map((t) => [t, 0])) as Record<ViolationType, number>;
  const violations: Violation[] = [];
  const failures: ChaosReport["failures"] = [];
  const settles: number[] = [];
  let timeouts = 0;
  let operations = 0;
  let burstCount = 0;
  let windows: Window[] = [];
  try {
    for (const burst of bursts(new Random(options.seed), u)) {
      if (operations >= options.ops && Date.now() - started >= options.durationMs) break;
      for (const op of burst) {
        monitor.opIndex = op.index;
        const opStarted = Date.now();
        // Until it is recorded below, a disturbance under way holds back the deadlines of expiries.
        if (DISTURBING.has(op.type)) grants.underWay = opStarted;
        const outcome = await execute(ctx, op);
        // grant-then-pause-leader disturbs only when it found a leader to pause.
        const disturbed = op.type !== "grant-then-pause-leader" || ctx.replicas.pausedIndex !== undefined;
        if (DISTURBING.has(op.type) && outcome.status !== "skipped" && disturbed) {
          const paused =
            op.type === "pause-replica"
              ? Math.min(op.seconds, ctx.maxPauseSeconds) * 1000
              : op.type === "grant-then-pause-leader"
                ? Math.min(op.pauseSeconds, ctx.maxPauseSeconds) * 1000
                : 0;
          timeline.disturb(op.type, op.index, opStarted, Math.max(Date.now(), opStarted + paused));
        }
        grants.underWay = undefined;
        const c = counts[op.type] ?? { done: 0, skipped: 0, failed: 0 };
        counts[op.type] = c;
        c[outcome.status]++;
        appendFileSync(
          env.opLog,
          `${new Date().toISOString()} burst ${burstCount} op ${op.index} ${JSON.stringify(op)} -> ` +
            `${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ""}\n`,
        );
        // Each completed leader pause is one look for a deposed leader's write.
        if (op.type === "pause-leader-mid-write" && outcome.status === "done") checks["deposed-leader-write"]++;
        if (outcome.status === "failed" && failures.length < 20)
          failures.push({ opIndex: op.index, type: op.type, detail: outcome.detail ?? "" });
        operations++;
      }
      const last = burst.at(-1)!.index;
      // The webhook answers again before the checks at quiescence.
      const faultFound = await webhookFaults.settle();
      checks["webhook-fault-grant"] = webhookFaults.summary.questions;
      const result = await settleAndCheck(checkCtx, { opIndex: last, burst: burstCount });
      result.violations.push(...faultFound.map((v) => ({ ...v, burst: burstCount })));
      for (const t of CHECK_TYPES) if (t !== "webhook-fault-grant") checks[t] += result.checks[t] ?? 0;
      for (const f of ctx.findings.splice(0)) result.violations.push({ ...f, seed: options.seed, burst: burstCount });
      result.violations.push(...judgeWindows(monitor.newlyClosed(), burstCount));
      result.violations.push(...endedGrantReads(burstCount));
      violations.push(...result.violations);
      settles.push(result.settleMs);
      if (result.timedOut) timeouts++;
      const shown = result.violations
        .slice(0, 3)
        .map((v) => `${v.type} ${v.namespace ?? ""} ${v.subject ?? v.serviceAccount ?? ""} ${v.pod ?? ""} ${v.detail}`)
        .join("; ");
      log(
        `burst ${burstCount}: ops ${burst[0]!.index}-${last}, settled in ${(result.settleMs / 1000).toFixed(1)}s, ` +
          `${result.violations.length} violation(s)${shown ? `: ${shown}` : ""}`,
      );
      burstCount++;
      if (options.stopOnViolation && violations.length) break;
    }
  } finally {
    // The grants whose deadline comes within two minutes are waited for and judged; the rest are counted as left.
    await grants.finish(120_000);
    windows = await monitor.stop();
    violations.push(...(await webhookFaults.settle()).map((v) => ({ ...v, burst: burstCount })));
    checks["webhook-fault-grant"] = webhookFaults.summary.questions;
  }
  violations.push(...judgeWindows(monitor.newlyClosed(), burstCount));
  violations.push(...endedGrantReads(burstCount));
  checks["ended-grant"] = grants.counts.reviews;
  for (const c of foreign.changes) {
    violations.push({
      type: "foreign-changed",
      seed: options.seed,
      opIndex: c.opIndex,
      burst: -1,
      namespace: c.object.namespace,
      detail:
        `${c.object.objectKind} ${c.object.name} (made by op ${c.object.createdByOp}) ` +
        (c.found === undefined ? "was deleted" : `changed: ${c.found.slice(0, 400)}`),
    });
  }
  const longest = (kind: Window["kind"]) =>
    windows.filter((w) => w.kind === kind).sort((a, b) => (b.durationMs ?? 0) - (a.durationMs ?? 0));
  const over = longest("over-grant");
  const under = longest("under-grant");
  const stale = longest("stale-grant");
  return {
    seed: options.seed,
    requested: { ops: options.ops, durationSeconds: options.durationMs / 1000 },
    startedAt: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    operations,
    bursts: burstCount,
    operationCounts: counts,
    checks,
    authorizerReviews: authorizer.reviews,
    violations,
    transient: {
      overGrantWindows: over.length,
      underGrantWindows: under.length,
      staleGrantWindows: stale.length,
      longestOverGrant: over[0],
      longestUnderGrant: under[0],
      longestStaleGrant: stale[0],
      overGrants: over.slice(0, 10),
      staleGrants: stale.slice(0, 10),
    },
    periods: timeline.periods.map((p) => ({
      opIndex: p.opIndex,
      refusal: describeRefusal(p.refusal),
      seconds: ((p.end ?? Date.now()) - p.start) / 1000,
    })),
    reactionMs,
    settle: {
      longestSeconds: Math.max(0, ...settles) / 1000,
      meanSeconds: settles.reduce((a, b) => a + b, 0) / Math.max(1, settles.length) / 1000,
      timeouts,
    },
    grants: { ...grants.counts, longestEnds: grants.longestEnds },
    controller: {
      replicaStarts: replicas.starts,
      unexpectedExits: replicas.unexpectedExits.length,
      monitorWatchRestarts: monitor.watchRestarts,
    },
    failures,
    webhook: webhookFaults.summary,
  };
}

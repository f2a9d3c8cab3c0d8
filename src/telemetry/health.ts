// Named health checks behind /healthz (liveness) and /readyz (readiness), answered the way
// Kubernetes components answer them: "ok", or with ?verbose one line per check.
//
// Liveness asks only whether this process is stuck: its event loop answers, and its workers move
// while work waits. Whether the apiserver answers is not part of it: restarting the pod would not
// bring the apiserver back, and every replica would restart at once. A failing watch shows in the
// podlogreader_watch_failing metric and in the log instead.
import { messageOf } from "../util/errors.ts";

export interface HealthCheck {
  name: string;
  /** A reason when the check fails, undefined when it passes. */
  check(): string | undefined | Promise<string | undefined>;
}

export interface HealthReport {
  ok: boolean;
  body: string;
}

/** Runs every check; the body is "ok", or the kube-style list when verbose or when one fails. */
export async function runChecks(
  checks: readonly HealthCheck[],
  endpoint: string,
  verbose: boolean,
  exclude: readonly string[] = [],
): Promise<HealthReport> {
  const lines: string[] = [];
  let ok = true;
  for (const c of checks) {
    if (exclude.includes(c.name)) {
      lines.push(`[+]${c.name} excluded: ok`);
      continue;
    }
    let failure: string | undefined;
    try {
      failure = await c.check();
    } catch (err) {
      failure = messageOf(err);
    }
    if (failure === undefined) lines.push(`[+]${c.name} ok`);
    else {
      ok = false;
      lines.push(`[-]${c.name} failed: ${failure}`);
    }
  }
  if (ok && !verbose) return { ok, body: "ok" };
  lines.push(`${endpoint} check ${ok ? "passed" : "failed"}`);
  return { ok, body: lines.join("\n") };
}

/** The process answers at all; like kube's "ping" check. */
export const ping: HealthCheck = { name: "ping", check: () => undefined };

/**
 * The event loop runs callbacks promptly: measured when asked, by how late a callback queued now
 * runs, so that nothing ticks while the process is idle. (A loop blocked outright cannot answer,
 * and the probe's own timeout fails it.)
 */
export function eventLoop(limitMs: number): HealthCheck {
  return {
    name: "event-loop",
    async check() {
      const start = performance.now();
      await new Promise<void>((resolve) => setImmediate(resolve));
      const lag = performance.now() - start;
      return lag > limitMs ? `a callback waited ${(lag / 1000).toFixed(1)}s for the event loop (limit ${limitMs / 1000}s)` : undefined;
    },
  };
}

export interface WorkerProgress {
  /** Keys ready to run and waiting for a worker. */
  waiting: number;
  /** Keys being reconciled now. */
  running: number;
  /** How long since a worker last took or finished a key. */
  sinceProgressMs: number;
  /** How long the longest-running reconcile has run. */
  longestRunningMs: number;
}

/**
 * The reconcile workers move: no reconcile runs longer than `stallMs`, and keys that wait for a
 * worker are taken within it. An outage of the apiserver does not fail this on its own: a request
 * ends with an error within Bun's fetch timeout (300 s) and the reconcile with it, so `stallMs` is
 * set well above that.
 */
export function workers(progress: () => WorkerProgress, stallMs: number): HealthCheck {
  return {
    name: "workqueue",
    check() {
      const p = progress();
      const seconds = (ms: number) => `${Math.round(ms / 1000)}s (limit ${stallMs / 1000}s)`;
      if (p.longestRunningMs > stallMs) return `a reconcile has been running for ${seconds(p.longestRunningMs)}`;
      if (p.waiting > 0 && p.sinceProgressMs > stallMs) {
        return `${p.waiting} key(s) waiting and ${p.running} running, but no worker took or finished one for ${seconds(p.sinceProgressMs)}`;
      }
      return undefined;
    },
  };
}

/** Every watch has listed once: the caches the reconciler reads are filled. */
export function cachesSynced(synced: () => boolean): HealthCheck {
  return { name: "informer-sync", check: () => (synced() ? undefined : "the initial list of every watched resource is not done yet") };
}

/** Fails once shutdown has begun, so no new traffic is sent while in-flight work finishes. */
export function notShuttingDown(signal: AbortSignal): HealthCheck {
  return { name: "shutdown", check: () => (signal.aborted ? "shutting down" : undefined) };
}

/** Above this a callback's wait for the event loop fails liveness. */
export const EVENT_LOOP_LIMIT_MS = 5_000;
/** Above this a reconcile that runs, or work that waits with no worker moving, fails liveness. */
export const WORKER_STALL_MS = 15 * 60_000;

/** The controller's checks: liveness is about this process, readiness about its caches. */
export function controllerChecks(
  controller: { readonly ready: boolean; workerProgress(): WorkerProgress },
  shutdown: AbortSignal,
): { liveness: HealthCheck[]; readiness: HealthCheck[] } {
  return {
    liveness: [ping, eventLoop(EVENT_LOOP_LIMIT_MS), workers(() => controller.workerProgress(), WORKER_STALL_MS)],
    readiness: [ping, cachesSynced(() => controller.ready), notShuttingDown(shutdown)],
  };
}

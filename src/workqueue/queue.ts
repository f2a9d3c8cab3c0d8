import { Backoff } from "../util/backoff.ts";
import { getOrCreate } from "../util/maps.ts";

/** What the queue tells its metrics, at the points where client-go's work queue counts. */
export interface QueueObserver {
  /** The key became ready to run (it was not ready already). */
  added(key: string): void;
  /** A worker took the key. */
  started(key: string): void;
  /** The key's run ended, failed or not. */
  finished(key: string): void;
  /** The key failed and was scheduled again with backoff. */
  retried(key: string): void;
  /** A ready key was dropped at shutdown without running. */
  dropped(key: string): void;
}

export interface WorkQueueOptions {
  /** Reconciles one key. A rejection requeues the key with backoff. */
  process(key: string): Promise<void>;
  /** Told about each failure and the delay before the retry. */
  onError(key: string, err: unknown, retryInMs: number, failures: number): void;
  concurrency: number;
  /** Called when the last running key finishes and nothing is ready to run. */
  onIdle?: () => void;
  retryBaseMs?: number;
  retryMaxMs?: number;
  observer?: QueueObserver;
}

interface Burst {
  ended: number;
  runs: number;
}

/** Batched adds gathered for one run: the shortest window asked for, and how many there were. */
interface Gathered {
  windowMs: number;
  adds: number;
}

function gather(into: Map<string, Gathered>, key: string, more: Gathered): void {
  const had = into.get(key);
  into.set(key, had ? { windowMs: Math.min(had.windowMs, more.windowMs), adds: had.adds + more.adds } : more);
}

/** Enough doublings for any window to reach its full length. */
const MAX_BURST_RUNS = 32;

/**
 * The window after a burst's `runs`-th batched run: an eighth of the full window after the first,
 * doubling after each run that gathered more than one add, up to the full window. Adds that come
 * one at a time are run almost as they come, and a long burst is still gathered into one run per
 * full window.
 */
export function burstWindow(windowMs: number, runs: number): number {
  return Math.min(windowMs, (windowMs / 8) * 2 ** Math.max(0, runs - 1));
}

/**
 * A keyed, delaying work queue. `add(key, delay)` asks for the key to be processed no later than
 * `delay` from now, so events arriving within a window share one run (the per-workload
 * debounce). A key is never processed by two workers at once; one added while it runs is run
 * again afterwards. Failures retry with per-key exponential backoff and are never dropped.
 */
export class WorkQueue {
  private readonly due = new Map<string, { at: number; timer: Timer }>();
  private readonly ready: string[] = [];
  private readonly readySet = new Set<string>();
  /** Keys being processed, with when their run began. */
  private readonly running = new Map<string, number>();
  /** Keys added while running, with when they were asked for. */
  private readonly again = new Map<string, number>();
  /** Keys batched while running: run again one window after their last batched run ended. */
  private readonly againBatched = new Map<string, Gathered>();
  /** Keys whose next run carries batched adds; only such a run opens a window. */
  private readonly carriesBatch = new Map<string, Gathered>();
  /** Keys running with batched adds. */
  private readonly runningBatch = new Map<string, Gathered>();
  /** Each key's burst: when its last batched run ended and how many batched runs it has had. */
  private readonly bursts = new Map<string, Burst>();
  private longestWindowMs = 0;
  private lastPruned = 0;
  private readonly failures = new Map<string, Backoff>();
  private readonly idleWaiters: (() => void)[] = [];
  private active = 0;
  private stopped = false;
  private started: boolean;
  /** When a worker last took or finished a key (Date.now()); 0 before the queue starts. */
  private lastProgressAt = 0;

  constructor(private readonly opts: WorkQueueOptions & { startPaused?: boolean }) {
    this.started = !opts.startPaused;
  }

  /** Begins processing keys; keys added before are kept until then. */
  start(): void {
    this.started = true;
    this.lastProgressAt = Date.now();
    this.pump();
  }

  get length(): number {
    return this.due.size + this.ready.length + this.again.size;
  }

  /** Keys ready to run and waiting for a worker (client-go's depth: delayed keys are not in it). */
  get depth(): number {
    return this.ready.length;
  }

  /**
   * Whether the workers move: while keys wait for a worker, some worker must take or finish one
   * now and then, and no one key may run for ever. Nothing waits before the queue starts.
   */
  progress(now = Date.now()): { waiting: number; running: number; sinceProgressMs: number; longestRunningMs: number } {
    const waiting = this.started && !this.stopped ? this.ready.length : 0;
    let longestRunningMs = 0;
    for (const since of this.running.values()) longestRunningMs = Math.max(longestRunningMs, now - since);
    return { waiting, running: this.active, sinceProgressMs: this.started ? now - this.lastProgressAt : 0, longestRunningMs };
  }

  add(key: string, delayMs = 0): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.running.has(key)) {
      const previous = this.again.get(key);
      if (previous === undefined || at < previous) this.again.set(key, at);
      return;
    }
    if (this.readySet.has(key)) return;
    const scheduled = this.due.get(key);
    if (scheduled && scheduled.at <= at) return;
    if (scheduled) clearTimeout(scheduled.timer);
    if (delayMs <= 0) {
      this.due.delete(key);
      this.makeReady(key);
      return;
    }
    const timer = setTimeout(() => {
      this.due.delete(key);
      this.makeReady(key);
    }, at - Date.now());
    this.due.set(key, { at, timer });
  }

  /**
   * Asks for the key to be processed, gathering bursts: a key that is idle and not in a burst is
   * processed at once; one that is running runs again when it ends, and one whose last batched run
   * ended within the burst's current window (burstWindow: from an eighth of `windowMs`, doubling
   * after each run that gathered several adds, up to all of it) runs when that window has passed, with everything added meanwhile. A burst
   * is over
   * once the key has been quiet for twice its window. Runs for plain adds (removals) open no
   * window. So a lone change is handled at watch speed and a burst becomes a few runs.
   */
  addBatched(key: string, windowMs: number): void {
    if (this.stopped) return;
    this.longestWindowMs = Math.max(this.longestWindowMs, windowMs);
    if (this.running.has(key)) {
      gather(this.againBatched, key, { windowMs, adds: 1 });
      return;
    }
    gather(this.carriesBatch, key, { windowMs, adds: 1 });
    this.add(key, this.batchWait(key, windowMs, Date.now()));
  }

  /**
   * For an add known to be followed by more (pods of a ReplicaSet still being made; the one that
   * completes them comes with addBatched): an idle key is run at once, as addBatched would; a key
   * that is running, waiting, or had a batched run within the last `windowMs` is run no later than
   * `windowMs` from now, so that what follows joins the same run.
   */
  addGathering(key: string, windowMs: number): void {
    if (this.stopped) return;
    const now = Date.now();
    const burst = this.bursts.get(key);
    const busy =
      this.running.has(key) || this.readySet.has(key) || this.due.has(key) || (burst !== undefined && now - burst.ended < windowMs);
    if (busy) this.add(key, windowMs);
    else this.addBatched(key, windowMs);
  }

  /** The key's burst, unless it is over: quiet for twice the window after its last batched run. */
  private liveBurst(key: string, windowMs: number, now: number): Burst | undefined {
    const burst = this.bursts.get(key);
    if (burst && now - burst.ended > 2 * burstWindow(windowMs, burst.runs)) {
      this.bursts.delete(key);
      return undefined;
    }
    return burst;
  }

  /** How long a batched add must wait for the window after the key's last batched run. */
  private batchWait(key: string, windowMs: number, now: number): number {
    const burst = this.liveBurst(key, windowMs, now);
    return burst ? Math.max(0, burst.ended + burstWindow(windowMs, burst.runs) - now) : 0;
  }

  /** Stops taking work, drops what has not started, and resolves when running work has finished. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.due.values()) clearTimeout(timer);
    this.due.clear();
    for (const key of this.ready) this.opts.observer?.dropped(key);
    this.ready.length = 0;
    this.readySet.clear();
    this.again.clear();
    this.againBatched.clear();
    this.carriesBatch.clear();
    await this.idle();
  }

  /** Resolves once no key is running. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets bursts that are over under any window: they no longer hold anything back. */
  private pruneBursts(now: number): void {
    this.lastPruned = now;
    for (const [key, burst] of this.bursts) if (now - burst.ended > 2 * this.longestWindowMs) this.bursts.delete(key);
  }

  private makeReady(key: string): void {
    if (this.stopped || this.readySet.has(key)) return;
    this.ready.push(key);
    this.readySet.add(key);
    this.opts.observer?.added(key);
    this.pump();
  }

  private pump(): void {
    while (this.started && !this.stopped && this.active < this.opts.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.readySet.delete(key);
      this.active++;
      this.lastProgressAt = Date.now();
      this.running.set(key, this.lastProgressAt);
      const gathered = this.carriesBatch.get(key);
      if (gathered) {
        this.carriesBatch.delete(key);
        this.runningBatch.set(key, gathered);
      }
      this.opts.observer?.started(key);
      void this.runOne(key);
    }
  }

  private async runOne(key: string): Promise<void> {
    let retryIn: number | undefined;
    try {
      await this.opts.process(key);
      this.failures.delete(key);
    } catch (err) {
      const backoff = getOrCreate(this.failures, key, () => new Backoff(this.opts.retryBaseMs ?? 250, this.opts.retryMaxMs ?? 120_000));
      retryIn = backoff.next();
      this.opts.observer?.retried(key);
      this.opts.onError(key, err, retryIn, backoff.failures);
    } finally {
      this.running.delete(key);
      this.active--;
      this.opts.observer?.finished(key);
      const now = Date.now();
      this.lastProgressAt = now;
      const ran = this.runningBatch.get(key);
      if (ran) {
        this.runningBatch.delete(key);
        const runs = ran.adds > 1 ? (this.liveBurst(key, ran.windowMs, now)?.runs ?? 0) + 1 : 1;
        this.bursts.set(key, { ended: now, runs: Math.min(runs, MAX_BURST_RUNS) });
      }
      if (this.bursts.size > 10_000 && now - this.lastPruned > this.longestWindowMs) this.pruneBursts(now);
      const again = this.again.get(key);
      this.again.delete(key);
      const batchedAgain = this.againBatched.get(key);
      this.againBatched.delete(key);
      if (batchedAgain) gather(this.carriesBatch, key, batchedAgain);
      const batched = batchedAgain ? this.batchWait(key, batchedAgain.windowMs, now) : Infinity;
      const wanted = Math.min(again === undefined ? Infinity : Math.max(0, again - now), batched);
      if (retryIn !== undefined) this.add(key, Math.min(retryIn, wanted));
      else if (wanted !== Infinity) this.add(key, wanted);
      this.pump();
      if (this.active === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        if (this.ready.length === 0) this.opts.onIdle?.();
      }
    }
  }
}

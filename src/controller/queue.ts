import { Backoff } from "../util/backoff.ts";

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
  private readonly running = new Set<string>();
  /** Keys added while running, with when they were asked for. */
  private readonly again = new Map<string, number>();
  private readonly failures = new Map<string, Backoff>();
  private readonly idleWaiters: (() => void)[] = [];
  private active = 0;
  private stopped = false;
  private started: boolean;

  constructor(private readonly opts: WorkQueueOptions & { startPaused?: boolean }) {
    this.started = !opts.startPaused;
  }

  /** Begins processing keys; keys added before are kept until then. */
  start(): void {
    this.started = true;
    this.pump();
  }

  get length(): number {
    return this.due.size + this.ready.length + this.again.size;
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

  /** Stops taking work, drops what has not started, and resolves when running work has finished. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.due.values()) clearTimeout(timer);
    this.due.clear();
    this.ready.length = 0;
    this.readySet.clear();
    this.again.clear();
    await this.idle();
  }

  /** Resolves once no key is running. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private makeReady(key: string): void {
    if (this.stopped || this.readySet.has(key)) return;
    this.ready.push(key);
    this.readySet.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.started && !this.stopped && this.active < this.opts.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.readySet.delete(key);
      this.active++;
      this.running.add(key);
      void this.runOne(key);
    }
  }

  private async runOne(key: string): Promise<void> {
    let retryIn: number | undefined;
    try {
      await this.opts.process(key);
      this.failures.delete(key);
    } catch (err) {
      let backoff = this.failures.get(key);
      if (!backoff) this.failures.set(key, (backoff = new Backoff(this.opts.retryBaseMs ?? 250, this.opts.retryMaxMs ?? 120_000)));
      retryIn = backoff.next();
      this.opts.onError(key, err, retryIn, backoff.failures);
    } finally {
      this.running.delete(key);
      this.active--;
      const again = this.again.get(key);
      this.again.delete(key);
      if (retryIn !== undefined) this.add(key, again === undefined ? retryIn : Math.min(retryIn, Math.max(0, again - Date.now())));
      else if (again !== undefined) this.add(key, again - Date.now());
      this.pump();
      if (this.active === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        if (this.ready.length === 0) this.opts.onIdle?.();
      }
    }
  }
}

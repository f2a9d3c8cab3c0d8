import { describe, expect, test } from "bun:test";
import { burstWindow, WorkQueue } from "../../../src/workqueue/queue.ts";
import { until } from "../../support/wait.ts";

function recorder(fail: (key: string, n: number) => boolean = () => false) {
  const runs: string[] = [];
  const errors: string[] = [];
  const counts = new Map<string, number>();
  const queue = new WorkQueue({
    concurrency: 2,
    retryBaseMs: 5,
    retryMaxMs: 20,
    async process(key) {
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      runs.push(key);
      await Bun.sleep(1);
      if (fail(key, n)) throw new Error(`failed ${key}`);
    },
    onError(key) {
      errors.push(key);
    },
  });
  return { queue, runs, errors };
}

/**
 * A queue of one worker; `runs` has each run's start time. With `holdFirst`, the first run is held
 * until `release()`.
 */
function timingRuns(holdFirst = false) {
  const runs: number[] = [];
  let held: (() => void) | undefined;
  const queue = new WorkQueue({
    concurrency: 1,
    async process() {
      runs.push(Date.now());
      if (holdFirst && runs.length === 1) await new Promise<void>((r) => (held = r));
    },
    onError() {},
  });
  return { queue, runs, release: () => held?.() };
}

const holdingFirstRun = () => timingRuns(true);

describe("WorkQueue batching: a lone change at once, a burst in a few runs", () => {
  test("a batched add on a key that has not run lately runs at once", async () => {
    const { queue, runs } = recorder();
    queue.addBatched("k", 60_000);
    await until(() => runs.length > 0);
    expect(runs).toEqual(["k"]);
    await queue.shutdown();
  });

  test("adds that come while the key runs become one more run, after the burst's first window", async () => {
    const { queue, runs, release } = holdingFirstRun();
    queue.addBatched("k", 800);
    await until(() => runs.length === 1);
    for (let i = 0; i < 20; i++) queue.addBatched("k", 800);
    const released = Date.now();
    release();
    await until(() => runs.length === 2);
    expect(runs[1]! - released).toBeGreaterThanOrEqual(burstWindow(800, 1) - 2);
    await Bun.sleep(50);
    expect(runs.length).toBe(2);
    await queue.shutdown();
  });

  test("the windows of a burst grow from an eighth of the window to all of it", () => {
    expect([1, 2, 3, 4, 5, 6].map((runs) => burstWindow(240, runs))).toEqual([30, 60, 120, 240, 240, 240]);
  });

  test("in a burst, each run waits at least its burst's window after the last", async () => {
    const spans: { start: number; end: number }[] = [];
    const queue: WorkQueue = new WorkQueue({
      concurrency: 1,
      async process() {
        const start = Date.now();
        // Several arrivals while each run is in flight, for the first six runs.
        if (spans.length < 5) for (let i = 0; i < 3; i++) queue.addBatched("k", 100);
        await Bun.sleep(1);
        spans.push({ start, end: Date.now() });
      },
      onError() {},
    });
    queue.addBatched("k", 100);
    await until(() => spans.length === 6);
    await queue.shutdown();
    const gaps = spans.slice(1).map((s, i) => s.start - spans[i]!.end);
    // The first run carried one add (window 12.5 ms); each later one several, so the window doubles.
    [12.5, 25, 50, 100, 100].forEach((w, i) => {
      expect(w).toBe(burstWindow(100, i + 1));
      expect(gaps[i]!).toBeGreaterThanOrEqual(w - 2);
    });
  });

  test("adds that come one at a time, each after the first window, do not grow it: each runs at once", async () => {
    const { queue, runs } = recorder();
    for (let i = 1; i <= 5; i++) {
      queue.addBatched("k", 160);
      expect(runs.length).toBe(i); // started synchronously: no timer stood between
      await until(() => queue.length === 0);
      await Bun.sleep(burstWindow(160, 1) + 5);
    }
    await queue.shutdown();
  });

  test("a burst is over once the key has been quiet for twice its window: the next add runs at once", async () => {
    const { queue, runs } = recorder();
    queue.addBatched("k", 80);
    await until(() => runs.length === 1);
    await Bun.sleep(2 * burstWindow(80, 1) + 10);
    queue.addBatched("k", 80);
    expect(runs).toEqual(["k", "k"]); // started synchronously: no timer stood between

    await queue.shutdown();
  });

  test("a run for a plain add (a removal) opens no window: a batched add after it runs at once", async () => {
    const { queue, runs } = recorder();
    queue.add("k", 0);
    await until(() => runs.length === 1);
    await Bun.sleep(5);
    queue.addBatched("k", 60_000);
    expect(runs).toEqual(["k", "k"]); // started synchronously: no timer stood between
    await queue.shutdown();
  });

  test("a batched add while a plain run is in flight runs as soon as that run ends", async () => {
    const runs: string[] = [];
    let release!: () => void;
    const queue = new WorkQueue({
      concurrency: 1,
      async process(key) {
        runs.push(key);
        if (runs.length === 1) await new Promise<void>((r) => (release = r));
      },
      onError() {},
    });
    queue.add("k", 0);
    await until(() => runs.length === 1);
    queue.addBatched("k", 60_000);
    release();
    await until(() => runs.length === 2);
    expect(runs).toEqual(["k", "k"]);
    await queue.shutdown();
  });

  test("the window is kept from the last batched run, even when a plain run came between", async () => {
    const { queue, runs } = recorder();
    queue.addBatched("k", 60_000);
    await until(() => runs.length === 1);
    await Bun.sleep(5);
    queue.add("k", 0);
    await until(() => runs.length === 2);
    await Bun.sleep(5);
    queue.addBatched("k", 60_000);
    await Bun.sleep(100);
    expect(runs.length).toBe(2);
    await queue.shutdown();
  });

  test("an add that must not wait overrides a batching wait", async () => {
    const { queue, runs } = recorder();
    queue.addBatched("k", 60_000);
    await until(() => runs.length === 1);
    queue.addBatched("k", 60_000);
    queue.add("k", 0);
    await until(() => runs.length === 2);
    expect(runs).toEqual(["k", "k"]);
    await queue.shutdown();
  });
});

describe("WorkQueue", () => {
  test("events for one key within the window become one run", async () => {
    const { queue, runs } = recorder();
    for (let i = 0; i < 50; i++) queue.add("shop/web", 50);
    await until(() => runs.length > 0);
    await Bun.sleep(80);
    expect(runs).toEqual(["shop/web"]);
  });

  test("an immediate add overrides a pending debounce", async () => {
    const { queue, runs } = recorder();
    queue.add("k", 10_000);
    queue.add("k", 0);
    await until(() => runs.length > 0);
    expect(runs).toEqual(["k"]);
    await queue.shutdown();
  });

  test("a key added while it runs runs again afterwards, never twice at once", async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const queue = new WorkQueue({
      concurrency: 4,
      async process() {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        runs++;
        await Bun.sleep(20);
        concurrent--;
      },
      onError() {},
    });
    queue.add("k");
    await Bun.sleep(5);
    queue.add("k");
    queue.add("k");
    await until(() => runs === 2);
    await queue.idle();
    expect(runs).toBe(2);
    expect(maxConcurrent).toBe(1);
  });

  test("failures are retried with backoff until they succeed", async () => {
    const { queue, runs, errors } = recorder((_, n) => n < 4);
    queue.add("k");
    await until(() => runs.length === 4);
    await queue.idle();
    expect(runs.length).toBe(4);
    expect(errors.length).toBe(3);
  });

  test("a queue started paused holds its keys until start", async () => {
    const runs: string[] = [];
    const queue = new WorkQueue({
      startPaused: true,
      concurrency: 1,
      async process(k) {
        runs.push(k);
      },
      onError() {},
    });
    queue.add("a");
    queue.add("b");
    await Bun.sleep(20);
    expect(runs).toEqual([]);
    queue.start();
    await until(() => runs.length === 2);
    expect(runs).toEqual(["a", "b"]);
  });

  test("onIdle is told once the last key has finished", async () => {
    let idle = 0;
    const queue = new WorkQueue({
      concurrency: 2,
      async process() {
        await Bun.sleep(5);
      },
      onError() {},
      onIdle: () => idle++,
    });
    queue.add("a");
    queue.add("b");
    await until(() => idle > 0);
    expect(idle).toBe(1);
  });

  test("shutdown waits for work in flight and drops what has not started", async () => {
    let finished = 0;
    const queue = new WorkQueue({
      concurrency: 1,
      async process() {
        await Bun.sleep(30);
        finished++;
      },
      onError() {},
    });
    queue.add("a");
    queue.add("b", 1000);
    await Bun.sleep(5);
    await queue.shutdown();
    expect(finished).toBe(1);
  });
});

describe("WorkQueue gathering: an add known to be followed by more", () => {
  test("on an idle key it runs at once", async () => {
    const { queue, runs } = recorder();
    queue.addGathering("k", 60_000);
    await until(() => runs.length > 0);
    expect(runs).toEqual(["k"]);
    await queue.shutdown();
  });

  test(
    "after a recent batched run it waits for the rest: the " + "batched add that completes them runs it at once, with everything",
    async () => {
      const { queue, runs } = timingRuns();
      queue.addBatched("k", 400);
      await until(() => runs.length === 1);
      await Bun.sleep(5 * burstWindow(400, 1)); // past the burst: a batched add alone would run at once
      queue.addGathering("k", 400);
      queue.addGathering("k", 400);
      await Bun.sleep(100);
      expect(runs.length).toBe(1);
      const completed = Date.now();
      queue.addBatched("k", 400);
      await until(() => runs.length === 2);
      expect(runs[1]! - completed).toBeLessThan(100);
      await Bun.sleep(450);
      expect(runs.length).toBe(2);
      await queue.shutdown();
    },
  );

  test("when the rest never comes, it runs one window after it was asked for", async () => {
    const { queue, runs } = timingRuns();
    queue.addBatched("k", 200);
    await until(() => runs.length === 1);
    const asked = Date.now();
    queue.addGathering("k", 200);
    await until(() => runs.length === 2);
    expect(runs[1]! - asked).toBeGreaterThanOrEqual(195);
    await queue.shutdown();
  });

  test("on a running key it runs once more after the run, within the window", async () => {
    const { queue, runs, release } = holdingFirstRun();
    queue.addGathering("k", 200);
    await until(() => runs.length === 1);
    const asked = Date.now();
    queue.addGathering("k", 200);
    release();
    await until(() => runs.length === 2);
    expect(runs[1]! - asked).toBeGreaterThanOrEqual(195);
    await Bun.sleep(250);
    expect(runs.length).toBe(2);
    await queue.shutdown();
  });
});

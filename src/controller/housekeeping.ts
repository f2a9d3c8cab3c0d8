// Memory housekeeping: what a burst of watch events and writes allocates is far more than what
// the controller keeps, so once the work queue goes idle after a burst, one full collection gives
// it back instead of holding it as heap.

const AT_MOST_EVERY_MS = 10_000;
const AFTER_IDLE_MS = 1_000;

export function garbageCollectorHint(): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < AT_MOST_EVERY_MS) return;
    last = now;
    setTimeout(() => Bun.gc(true), AFTER_IDLE_MS).unref();
  };
}

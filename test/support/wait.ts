// Waiting in unit tests for something asynchronous to have happened, with a limit.
import { expect } from "bun:test";

/** Polls `check` every 5 ms; fails the test when it is still false after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await Bun.sleep(5);
  expect(check()).toBe(true);
}

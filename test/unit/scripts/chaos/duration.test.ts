import { expect, test } from "bun:test";
import { parseDuration } from "../../../../scripts/chaos/duration.ts";

test.each([
  ["0", 0],
  ["500ms", 500],
  ["2s", 2000],
  ["1.5s", 1500],
  ["1m30s", 90_000],
  ["10m", 600_000],
  ["1h", 3_600_000],
])("parses %s", (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

test.each(["", "5", "abc", "1d", "-1s", "1s junk", "s"])("rejects %p", (text) => {
  expect(parseDuration(text)).toBeUndefined();
});

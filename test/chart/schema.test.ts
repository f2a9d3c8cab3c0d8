// values.schema.json's long patterns are the ones built, readably, in schema-patterns.ts.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chartDir } from "../support/chart.ts";
import { DURATION, SCHEDULE } from "./schema-patterns.ts";

interface Schema {
  properties: Record<string, Schema & { pattern?: string }>;
}
const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")) as Schema;

test("every duration value has the Go duration pattern", () => {
  const certificate = schema.properties.authorizer!.properties.certificate!.properties;
  const durations = [
    schema.properties.debounce,
    schema.properties.resync,
    ...Object.values(schema.properties.leaderElection!.properties),
    schema.properties.grantPolicy!.properties.maxDuration,
    certificate.duration,
    certificate.renewBefore,
  ];
  expect(durations.map((d) => d!.pattern)).toEqual(Array(8).fill(`^${DURATION}$`));
});

test("audit.schedule has the CronJob schedule pattern", () => {
  expect(schema.properties.audit!.properties.schedule!.pattern).toBe(SCHEDULE);
});

test(
  "the patterns read as intended (JavaScript's regex engine; helm's is checked against the binary and the apiserver in " +
    "test/e2e/chart-values.test.ts)",
  () => {
    const duration = new RegExp(`^${DURATION}$`);
    for (const ok of ["0", "-0", "1h30m", ".5s", "1.s", "1µs", "+3ms"]) expect(duration.test(ok)).toBe(true);
    for (const bad of ["", "1", "00", "1d", ".s", "1mh", "5 s"]) expect(duration.test(bad)).toBe(false);
    const schedule = new RegExp(SCHEDULE);
    for (const ok of ["@hourly", "@every 90s", "*/5 1-3 * JAN,feb mon-fri", "0 0 1 1 *", "? * * * *"]) expect(schedule.test(ok)).toBe(true);
    for (const bad of ["@reboot", "60 * * * *", "* * * * 7", "*/0 * * * *", "0 * * *", "TZ=UTC 0 * * * *"])
      expect(schedule.test(bad)).toBe(false);
  },
);

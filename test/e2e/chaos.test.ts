// A short chaos run (scripts/chaos) in the normal suite: a fixed seed, a few hundred operations
// against two replicas of the compiled binary on a control plane of its own. Every grant is judged
// by SubjectAccessReview; `make chaos` runs the same harness for longer.
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { runChaos } from "../../scripts/chaos/harness.ts";
import { formatReport } from "../../scripts/chaos/report.ts";

const SEED = 20_260_101;

test("a short chaos run: no over-grants, orphans, changed foreign objects or under-grants at quiescence", async () => {
  const logDir = join(tmpdir(), `podlogreader-chaos-test-${process.pid}`);
  const report = await runChaos({
    seed: SEED,
    ops: 250,
    durationMs: 0,
    maxPauseSeconds: 20,
    settleTimeoutMs: 60_000,
    logDir,
    log: () => {},
    stopOnViolation: true,
  });
  const byType = (t: string) => report.violations.filter((v) => v.type === t);
  // The replicas' logs are kept only when something was wrong.
  if (report.violations.length) console.error(`${formatReport(report)}\nreplica logs in ${logDir}`);
  else rmSync(logDir, { recursive: true, force: true });
  expect(byType("over-grant")).toEqual([]);
  expect(byType("orphan")).toEqual([]);
  expect(byType("foreign-changed")).toEqual([]);
  expect(byType("under-grant")).toEqual([]);
  expect(report.violations).toEqual([]);
  expect(report.operations).toBeGreaterThanOrEqual(250);
  expect(report.checks["over-grant"]).toBeGreaterThan(0);
}, 420_000);

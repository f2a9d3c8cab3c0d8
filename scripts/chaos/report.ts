// The run's report: what was done, what was checked, what was wrong, and the longest windows.
import type { ViolationType, Violation } from "./checks.ts";
import type { GrantCounts } from "./grant-ledger.ts";
import type { Window } from "./monitor.ts";
import type { OpType } from "./plan.ts";
import type { WebhookFaultSummary } from "./webhook-faults.ts";

export interface OpCounts {
  done: number;
  skipped: number;
  failed: number;
}

export interface ChaosReport {
  seed: number;
  requested: { ops: number; durationSeconds: number };
  startedAt: string;
  durationSeconds: number;
  operations: number;
  bursts: number;
  /** By operation type; "skipped" means the target was missing or the name taken when it ran. */
  operationCounts: Partial<Record<OpType, OpCounts>>;
  /** Questions asked per check type, summed over every quiescence. */
  checks: Record<ViolationType, number>;
  authorizerReviews: number;
  violations: Violation[];
  transient: {
    overGrantWindows: number;
    underGrantWindows: number;
    /** Windows in which the name of a pod that was gone stayed readable. */
    staleGrantWindows: number;
    longestOverGrant?: Window;
    longestUnderGrant?: Window;
    longestStaleGrant?: Window;
    /** The ten longest over-grant windows. */
    overGrants: Window[];
    /** The ten longest stale-grant windows. */
    staleGrants: Window[];
  };
  /** Every refusal period: the operation that began it, its shape, how long it lasted. */
  periods: { opIndex: number; refusal: string; seconds: number }[];
  /** How long a grant was allowed to outlive its reason. */
  reactionMs: number;
  settle: { longestSeconds: number; meanSeconds: number; timeouts: number };
  /** Grants made with `podlogreader grant`, and how their ends were judged. */
  grants: GrantCounts & { longestEnds: { binding: string; subject: string; why: string; ms: number }[] };
  controller: { replicaStarts: number; unexpectedExits: number; monitorWatchRestarts: number };
  /** Operations that failed after retries, first 20, for diagnosis. */
  failures: { opIndex: number; type: OpType; detail: string }[];
  /** The webhook authorizer's mode, faults and what was asked while they were in force. */
  webhook?: WebhookFaultSummary;
}

const s = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(2)}s`);
const describeWindow = (w: Window | undefined) =>
  w ? `${s(w.durationMs)}  ${w.namespace} ${w.serviceAccount} -> pod ${w.pod} (after op ${w.opIndex})` : "none";

export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `chaos: seed ${r.seed}, ${r.operations} operations in ${r.bursts} bursts, ${r.durationSeconds.toFixed(0)}s (asked: ` +
      `${r.requested.ops} ops, ${r.requested.durationSeconds}s)`,
  );
  lines.push("", "operations (done / skipped / failed):");
  for (const [type, c] of Object.entries(r.operationCounts).sort())
    lines.push(
      `  ${type.padEnd(24)} ${String(c!.done).padStart(5)} / ${String(c!.skipped).padStart(4)} / ${String(c!.failed).padStart(3)}`,
    );
  lines.push("", `checks (${r.authorizerReviews} SubjectAccessReviews in all):`);
  for (const [type, n] of Object.entries(r.checks)) lines.push(`  ${type.padEnd(24)} ${n}`);
  lines.push(
    "",
    `settling: longest ${r.settle.longestSeconds.toFixed(1)}s, mean ${r.settle.meanSeconds.toFixed(1)}s, ${r.settle.timeouts} timed out`,
  );
  lines.push(
    `controller: ${r.controller.replicaStarts} replica starts, ${r.controller.unexpectedExits} exits the harness did not cause; ` +
      `monitor watch restarts ${r.controller.monitorWatchRestarts}`,
  );
  lines.push("", `transient over-grant windows: ${r.transient.overGrantWindows}, longest: ${describeWindow(r.transient.longestOverGrant)}`);
  lines.push(`transient under-grant windows: ${r.transient.underGrantWindows}, longest: ${describeWindow(r.transient.longestUnderGrant)}`);
  lines.push(
    `stale-grant windows: ${r.transient.staleGrantWindows}, longest: ${describeWindow(r.transient.longestStaleGrant)} (each judged ` +
      `against ${r.reactionMs}ms plus what is excused)`,
  );
  const g = r.grants;
  lines.push(
    "",
    `grants: ${g.made} made (${g.subjects} users and groups; ${g.readableWhenMade} read a pod of their workload when made); ` +
      `ends judged: ${g.expired} expired, ${g.revoked} revoked, with ${g.reviews} SubjectAccessReviews; ${g.pendingAtEnd} ended ` +
      `too late to judge, ${g.liveAtEnd} still running at the end; ` +
      `longest wait from an expiry to its deadline ${(g.longestExpiryDeadlineMs / 1000).toFixed(1)}s`,
  );
  const ends = g.observedEndMs;
  if (ends.length) {
    lines.push(
      `  ends watched as they happened: ${ends.length} of ${g.watchedEnds}; read for at most ${s(ends.at(-1))} after the end ` +
        `(median ${s(ends[Math.floor(ends.length / 2)])}); longest:`,
    );
    for (const e of g.longestEnds.slice(0, 3)) lines.push(`    ${s(e.ms)}  ${e.subject} ${e.why}, ${e.binding}`);
  }
  const byRefusal = new Map<string, number>();
  for (const p of r.periods) byRefusal.set(p.refusal, (byRefusal.get(p.refusal) ?? 0) + 1);
  lines.push(
    "",
    `refusal periods: ${r.periods.length}${
      r.periods.length
        ? ` (${[...byRefusal]
            .sort()
            .map(([k, n]) => `${n} ${k}`)
            .join(", ")})`
        : ""
    }`,
  );
  if (r.webhook) {
    const w = r.webhook;
    const faults = Object.entries(w.faults).sort();
    lines.push(
      "",
      `webhook authorizer (--role-pod-names=${w.rolePodNames}): ${faults.reduce((n, [, c]) => n + c!, 0)} ` +
        `faults${faults.length ? ` (${faults.map(([t, c]) => `${c} ${t.replace("webhook-", "")}`).join(", ")})` : ""}; ` +
        `${w.questions} questions asked while faulted (${w.strictQuestions} where only the Roles may grant), allowed: ${w.allowed} ` +
        `there (each through a Role) and ${w.allowedInTime} where a slow answer came in time; the front answered ${w.frontReviews} ` +
        `reviews, ${w.frontFaulted} of them faulted`,
    );
  }
  lines.push("", `violations: ${r.violations.length}`);
  for (const v of r.violations.slice(0, 50)) {
    lines.push(
      `  ${v.type} seed=${v.seed} op=${v.opIndex} burst=${v.burst} ${v.namespace ?? ""} ` +
        `${v.subject ?? v.serviceAccount ?? ""}${v.pod ? ` pod ${v.pod}` : ""}: ${v.detail}`,
    );
  }
  if (r.violations.length > 50) lines.push(`  ... ${r.violations.length - 50} more in the JSON report`);
  if (r.failures.length) {
    lines.push("", "failed operations (first 20):");
    for (const f of r.failures) lines.push(`  op ${f.opIndex} ${f.type}: ${f.detail}`);
  }
  return lines.join("\n");
}

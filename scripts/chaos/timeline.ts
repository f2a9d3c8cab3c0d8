// When the run's refusal periods and disturbances were, and the verdict on a window in which a
// grant outlived its reason. Pure: times are passed in.
import { allowanceMs, hasWayOut, type Refusal } from "./refusals.ts";

export interface Interval {
  start: number;
  /** Unset while it lasts. */
  end?: number;
}

export interface RefusalPeriod extends Interval {
  refusal: Refusal;
  opIndex: number;
}

/** An operation that leaves the controller without a live leader or without watches for a while. */
export interface Disturbance extends Interval {
  type: string;
  opIndex: number;
}

/**
 * After a disturbance ends, how long the controller may still be without a leader: a standby takes
 * the Lease 15 s (the default --leader-elect-lease-duration) after the last renewal, then relists.
 */
export const LEASE_GAP_MS = 20_000;

export class Timeline {
  readonly periods: RefusalPeriod[] = [];
  readonly disturbances: Disturbance[] = [];

  beginPeriod(refusal: Refusal, opIndex: number, at: number): void {
    this.periods.push({ refusal, opIndex, start: at });
  }

  endPeriod(at: number): void {
    const open = this.periods.at(-1);
    if (open && open.end === undefined) open.end = at;
  }

  /** A disturbance from `start` to `end`; the lease gap after it is added when windows are judged. */
  disturb(type: string, opIndex: number, start: number, end: number): void {
    this.disturbances.push({ type, opIndex, start, end });
  }

  /** The period in force at `at`, if any. */
  periodAt(at: number): RefusalPeriod | undefined {
    return this.periods.find((p) => p.start <= at && (p.end === undefined || at <= p.end));
  }
}

/** How much of `span` the intervals cover, each counted once (they may overlap). */
export function coveredMs(span: { start: number; end: number }, intervals: { start: number; end: number }[]): number {
  const clipped = intervals
    .map((i) => ({ start: Math.max(i.start, span.start), end: Math.min(i.end, span.end) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  let total = 0;
  let reach = span.start;
  for (const i of clipped) {
    const from = Math.max(i.start, reach);
    if (i.end > from) total += i.end - from;
    reach = Math.max(reach, i.end);
  }
  return total;
}

export interface GrantWindow {
  kind: "over-grant" | "stale-grant";
  /** For a stale grant, when the pod was seen to go; for an over-grant, the first time the authorizer allowed it. */
  startedAt: number;
  /** When the last question the authorizer answered "allowed" was sent: the grant surely held until then. */
  lastAllowedAt: number;
}

export interface WindowVerdict {
  /** How long the grant was proven to outlive its reason, less the time excused. */
  judgedMs: number;
  allowanceMs: number;
  /** The refusal period with a way out that the window overlapped, if any. */
  period?: RefusalPeriod;
  excusedMs: number;
}

/**
 * Whether a window is judged, and against what. A stale grant is always judged; an over-grant only
 * when it overlaps a refusal period that leaves a way out (elsewhere it stays a transient window, as
 * before). Time without a live leader (a disturbance and the lease gap after it) and time in a
 * period without a way out are excused. The allowance is the reaction time, plus the hanging
 * webhook's waits if the window overlapped such a period.
 */
export function judgeWindow(
  w: GrantWindow,
  t: Pick<Timeline, "periods" | "disturbances">,
  reactionMs: number,
  now: number,
): WindowVerdict | undefined {
  const span = { start: w.startedAt, end: w.lastAllowedAt };
  const touching = t.periods.filter((p) => p.start <= span.end && (p.end ?? now) >= span.start);
  const withWayOut = touching.filter((p) => hasWayOut(p.refusal.shape));
  if (w.kind === "over-grant" && withWayOut.length === 0) return undefined;
  const excused = [
    ...t.disturbances.map((d) => ({ start: d.start, end: (d.end ?? now) + LEASE_GAP_MS })),
    ...touching.filter((p) => !hasWayOut(p.refusal.shape)).map((p) => ({ start: p.start, end: p.end ?? now })),
  ];
  const excusedMs = coveredMs(span, excused);
  const allowance = Math.max(allowanceMs(undefined, reactionMs), ...withWayOut.map((p) => allowanceMs(p.refusal, reactionMs)));
  return { judgedMs: span.end - span.start - excusedMs, allowanceMs: allowance, period: withWayOut[0], excusedMs };
}

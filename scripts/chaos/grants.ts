// Grants to people in the chaos run (`podlogreader grant`): who each grant named, when each subject
// stopped being owed access, and the judge's two rules for them. Like model.ts, this reads the API
// objects itself and shares no code with the controller. Pure: times and answers are passed in.
//
// 1. While a grant exists, its subjects read no pod outside the granted workload; once the Role it
//    binds is no longer the managed Role it was made for (deleted, made again, taken over), they
//    read nothing (judged at quiescence, with the over-grant check).
// 2. An ended grant reads nothing, no pod and no name of a pod, from its deadline on: 10 s after a
//    revoke returned (revoke deletes the binding itself), or 10 s after the expiry. When the expiry
//    falls while the controller may have no live leader, 10 s after it leads again: a disturbance (a
//    replica killed or paused, the apiserver restarted) spans its own time and the 20 s after it in
//    which a standby may still be taking the Lease (timeline.ts, LEASE_GAP_MS), and spans that
//    overlap chain. A disturbance that begins after the expiry moves nothing: the controller that
//    led at the expiry had a timer set for that instant.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { WorkloadKind } from "../../src/access/kinds.ts";
import { isManaged, type Expectation, type Snapshot } from "./model.ts";
import { LEASE_GAP_MS, type Timeline } from "./timeline.ts";

const GRANT_LABEL = ["podlogreader.dev/grant", "true"] as const;
const WORKLOAD_ANNOTATION = "podlogreader.dev/workload";

/** How long an ended grant may still read, in time the controller leads. */
export const END_BOUND_MS = 10_000;

export interface GrantSubject {
  kind: "User" | "Group";
  name: string;
}

/** As `podlogreader grant --to` takes it. */
export const subjectText = (s: GrantSubject) => `${s.kind === "User" ? "user" : "group"}:${s.name}`;

/** A grant the run made: the command's own account of it. */
export interface GrantRecord {
  opIndex: number;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  binding: string;
  subjects: GrantSubject[];
  grantedAt: number;
  /** The expiry the binding carries (whole seconds, at most the asked duration from the grant). */
  expiresAt: number;
  /** By subject text: when the revoke that took it out returned. */
  revokedAt: Record<string, number>;
}

export interface Ending {
  grant: GrantRecord;
  subject: GrantSubject;
  why: "expired" | "revoked";
  at: number;
}

/** When each subject of a grant stops being owed access: its revoke if that came first, else the expiry. */
export function endings(g: GrantRecord): Ending[] {
  return g.subjects.map((subject) => {
    const revoked = g.revokedAt[subjectText(subject)];
    return revoked !== undefined && revoked < g.expiresAt
      ? { grant: g, subject, why: "revoked", at: revoked }
      : { grant: g, subject, why: "expired", at: g.expiresAt };
  });
}

/** A span in which the controller may have no live leader; `end` unset while it lasts. */
export interface Excused {
  start: number;
  end?: number;
}

/** The run's disturbances, each with the lease gap after it, and the disturbing operation under way, if any. */
export function excusedSpans(t: Pick<Timeline, "disturbances">, underWay: number | undefined): Excused[] {
  const spans: Excused[] = t.disturbances.map((d) => ({ start: d.start, ...(d.end === undefined ? {} : { end: d.end + LEASE_GAP_MS }) }));
  return underWay === undefined ? spans : [...spans, { start: underWay }];
}

/**
 * When the controller leads again after `at`: the end of the chain of excused spans that covers
 * `at` (overlapping spans chain), or `at` itself when none does; undefined while an open span
 * holds it.
 */
export function leaderBack(at: number, excused: readonly Excused[]): number | undefined {
  let t = at;
  for (const span of [...excused].sort((a, b) => a.start - b.start)) {
    if (span.start > t) break;
    if (span.end === undefined) return undefined;
    t = Math.max(t, span.end);
  }
  return t;
}

/** When an ended subject must read nothing any more (rule 2); undefined while that is not yet known. */
export function endDeadline(e: Pick<Ending, "why" | "at">, excused: readonly Excused[], boundMs = END_BOUND_MS): number | undefined {
  if (e.why === "revoked") return e.at + boundMs;
  const back = leaderBack(e.at, excused);
  return back === undefined ? undefined : back + boundMs;
}

export interface Answer {
  pod: string;
  allowed: boolean;
  /** When the question was sent. */
  askedAt: number;
}

/** The reads rule 2 forbids: allowed answers to questions sent at or after the deadline. */
export function readsPastDeadline(deadline: number, answers: readonly Answer[]): Answer[] {
  return answers.filter((a) => a.allowed && a.askedAt >= deadline);
}

/** A grant RoleBinding as the snapshot shows it. */
export interface LiveGrant {
  binding: string;
  /** The Role it binds. */
  role: string;
  /** `Kind/name`, from its annotation. */
  workload?: string;
  /** The uid of the Role its ownerReference names: the Role it was made for. */
  roleUid?: string;
  subjects: GrantSubject[];
}

const isGrantMeta = (meta: V1ObjectMeta | undefined) => meta?.labels?.[GRANT_LABEL[0]] === GRANT_LABEL[1];

/** Every binding labelled as a grant, with its user and group subjects. */
export function liveGrants(s: Snapshot): LiveGrant[] {
  return s.roleBindings
    .filter((b) => isGrantMeta(b.metadata) && b.roleRef.kind === "Role")
    .map((b) => ({
      binding: b.metadata!.name!,
      role: b.roleRef.name,
      workload: b.metadata!.annotations?.[WORKLOAD_ANNOTATION],
      roleUid: b.metadata!.ownerReferences?.find((o) => o.kind === "Role" && o.name === b.roleRef.name)?.uid,
      subjects: (b.subjects ?? [])
        .filter((x): x is typeof x & { kind: "User" | "Group" } => x.kind === "User" || x.kind === "Group")
        .map((x) => ({ kind: x.kind, name: x.name })),
    }));
}

/**
 * The pods a grant's subjects may read (rule 1): those the workload's managed name may read, while
 * the Role bound is still podlogreader's, is the very Role the grant was made for, and belongs to
 * the workload the grant names; none otherwise, and `broken` says why.
 */
export function grantScope(g: LiveGrant, s: Snapshot, exp: ReadonlyMap<string, Expectation>): { pods: Set<string>; broken?: string } {
  const role = s.roles.find((r) => r.metadata?.name === g.role);
  const e = exp.get(g.role);
  if (!role) return { pods: new Set(), broken: `its Role ${g.role} is gone` };
  if (!isManaged(role.metadata)) return { pods: new Set(), broken: `its Role ${g.role} is not podlogreader's` };
  if (role.metadata!.uid !== g.roleUid)
    return { pods: new Set(), broken: `its Role ${g.role} is not the one it was made for (uid ${role.metadata!.uid}, not ${g.roleUid})` };
  if (!e?.owner || g.workload !== `${e.owner.kind}/${e.owner.name}`)
    return { pods: new Set(), broken: `no opted-in workload ${g.workload ?? "(none named)"} owns ${g.role}` };
  return { pods: e.mayRead };
}

// The checks at quiescence: wait (bounded) until the controller should have caught up, then ask
// the authorizer about every (ServiceAccount, pod) pair, and look for orphans, Roles that name no
// pods in a pod rule, names of pods that are gone, missing ServiceAccounts and changed foreign
// objects. While the apiserver refuses writes to managed objects, what no controller could mend
// without those writes is not asked of it; what it can mend otherwise (a binding emptied or
// deleted) still is. In a period that leaves no way out, every grant the authorizer still allows
// beyond its reason must be reported by the controller instead (a Warning Event RoleWriteRefused).
import type { CoreV1Event } from "@kubernetes/client-node";
import type { KubeApi } from "../../src/kube/api.ts";
import { Events, Pods } from "../../src/kube/resources.ts";
import type { Authorizer } from "./authorizer.ts";
import type { ForeignRecord } from "./foreign.ts";
import { listObjects } from "./kube.ts";
import { excusedChecks, type Refusal } from "./refusals.ts";
import type { RefusalPeriod } from "./timeline.ts";
import type { RefusalReport } from "./replicas.ts";
import { grantScope, liveGrants, subjectText } from "./grants.ts";
import {
  expectations,
  isManaged,
  orphans,
  predictedReadable,
  staleNames,
  unboundedRoles,
  type Expectation,
  type Snapshot,
} from "./model.ts";
import { loadSnapshot } from "./snapshot.ts";

export type ViolationType =
  | "over-grant"
  | "under-grant"
  | "orphan"
  | "foreign-changed"
  | "unbounded-role"
  | "missing-service-account"
  | "stale-name"
  | "foreign-role-grant"
  | "deposed-leader-write"
  | "stale-grant"
  | "unreported-refusal"
  | "webhook-fault-grant"
  | "ended-grant";
export const CHECK_TYPES: ViolationType[] = [
  "over-grant",
  "under-grant",
  "orphan",
  "foreign-changed",
  "unbounded-role",
  "missing-service-account",
  "stale-name",
  "foreign-role-grant",
  "deposed-leader-write",
  "stale-grant",
  "unreported-refusal",
  "webhook-fault-grant",
  "ended-grant",
];

/** What the refusal in force excuses (refusals.ts). */
function excused(refusal: Refusal | undefined): Set<ViolationType> {
  return refusal ? (excusedChecks(refusal.shape) as Set<ViolationType>) : new Set();
}

/** The grants that, in a period without a way out, the controller must report rather than end. */
const MUST_REPORT: ReadonlySet<ViolationType> = new Set(["over-grant", "stale-grant", "foreign-role-grant"]);
export const REPORT_REASON = "RoleWriteRefused";

export interface Violation {
  type: ViolationType;
  seed: number;
  /** The last operation before the check that found it; replaying the seed up to here reproduces the state. */
  opIndex: number;
  burst: number;
  namespace?: string;
  serviceAccount?: string;
  /** A user or group of a grant (`user:NAME`, `group:NAME`), when the finding is about one. */
  subject?: string;
  /** The managed Role the grant binds. */
  role?: string;
  pod?: string;
  detail: string;
}

export interface CheckContext {
  api: KubeApi;
  authorizer: Authorizer;
  namespaces: string[];
  /** The ServiceAccount names to ask about in a namespace, besides those the snapshot shows. */
  serviceAccountsOf: (namespace: string, snapshot: Snapshot) => string[];
  nameOf: Parameters<typeof expectations>[2];
  foreign: ForeignRecord;
  settleTimeoutMs: number;
  seed: number;
  /** The refusal period in force, if any. */
  period: () => RefusalPeriod | undefined;
  /** The replicas' RoleWriteRefused log lines so far. */
  refusalReports: () => RefusalReport[];
  /** False with --role-pod-names=none: no Role names a pod, so only the authorizer shows what is owed. */
  rolesNamePods?: boolean;
}

export interface CheckResult {
  violations: Violation[];
  checks: Record<ViolationType, number>;
  settleMs: number;
  timedOut: boolean;
}

type Found = Omit<Violation, "seed" | "opIndex" | "burst">;

/** What the Roles and RoleBindings suggest is still wrong: the cheap test for "settled". */
function looksWrong(s: Snapshot, exp: Map<string, Expectation>, excuse: Set<ViolationType>, rolesNamePods = true): number {
  let wrong = orphansOf(s, excuse).length + unboundedRoles(s).length + (excuse.has("stale-name") ? 0 : staleNames(s).length);
  const sas = new Set(s.serviceAccounts.map((a) => a.metadata!.name!));
  const gone = new Set(goneNames(s));
  for (const e of exp.values()) {
    const p = predictedReadable(s, e.serviceAccount);
    if (p.all) wrong++;
    if (!excuse.has("stale-grant")) for (const n of p.names) if (gone.has(n)) wrong++;
    if (!excuse.has("over-grant")) for (const n of p.names) if (!e.mayRead.has(n) && s.pods.some((x) => x.metadata!.name === n)) wrong++;
    if (!excuse.has("under-grant") && rolesNamePods) for (const n of e.mustRead) if (!p.names.has(n)) wrong++;
    if (e.owner && !e.blocked && !excuse.has("missing-service-account") && !sas.has(e.serviceAccount)) wrong++;
  }
  return wrong;
}

/** Names any Role's pod rules list that no pod in the namespace has. */
function goneNames(s: Snapshot): string[] {
  const pods = new Set(s.pods.map((p) => p.metadata!.name!));
  const listed = s.roles.flatMap((r) =>
    (r.rules ?? [])
      .filter((rule) => (rule.resources ?? []).some((x) => x === "pods" || x === "pods/log"))
      .flatMap((rule) => rule.resourceNames ?? []),
  );
  return [...new Set(listed)].filter((n) => !pods.has(n));
}

/** Orphans, unless a refusal of every Role write holds up the cleanup (a Role that cannot be deleted may stop the rest). */
function orphansOf(s: Snapshot, excuse: Set<ViolationType>) {
  return excuse.has("orphan") ? [] : orphans(s);
}

export async function settleAndCheck(ctx: CheckContext, at: { opIndex: number; burst: number }): Promise<CheckResult> {
  const started = Date.now();
  const deadline = started + ctx.settleTimeoutMs;
  const period = ctx.period();
  const excuse = excused(period?.refusal);
  for (;;) {
    const snaps = await Promise.all(ctx.namespaces.map((ns) => loadSnapshot(ctx.api, ns)));
    const exps = snaps.map((s) => expectations(s, ctx.serviceAccountsOf(s.namespace, s), ctx.nameOf));
    const timedOut = Date.now() > deadline;
    if (timedOut || snaps.every((s, i) => looksWrong(s, exps[i]!, excuse, ctx.rolesNamePods) === 0)) {
      const checks = {} as Record<ViolationType, number>;
      const found = await judge(ctx, snaps, exps, checks, at.opIndex, excuse, period);
      if (found.length === 0 || timedOut) {
        const violations = found.map((f) => ({ ...f, seed: ctx.seed, ...at }));
        return { violations, checks, settleMs: Date.now() - started, timedOut: timedOut && found.length > 0 };
      }
    }
    await Bun.sleep(500);
  }
}

async function judge(
  ctx: CheckContext,
  snaps: Snapshot[],
  exps: Map<string, Expectation>[],
  checks: Record<ViolationType, number>,
  opIndex: number,
  excuse: Set<ViolationType>,
  period: RefusalPeriod | undefined,
): Promise<Found[]> {
  const all: Found[] = [];
  for (const t of CHECK_TYPES) checks[t] = 0;
  for (const [i, s] of snaps.entries()) {
    const found = await judgeNamespace(ctx, s, exps[i]!, checks, excuse);
    const left = found.filter((f) => excuse.has(f.type) && MUST_REPORT.has(f.type));
    all.push(...found.filter((f) => !excuse.has(f.type)));
    if (left.length === 0) continue;
    const events = await listObjects<CoreV1Event>(ctx.api, Events, s.namespace);
    for (const f of left) {
      checks["unreported-refusal"]++;
      const v = unreported(events, ctx.refusalReports(), s, exps[i]!, f, period!);
      if (v) all.push(v);
    }
  }
  // Changes are kept by the record itself (a delete-foreign operation finds them too); the harness reports them.
  const before = ctx.foreign.checks;
  await ctx.foreign.changed(ctx.api, opIndex);
  checks["foreign-changed"] += ctx.foreign.checks - before;
  return all;
}

/** The workload a managed ServiceAccount name stands for, from the annotation of its Role or binding, else its owner now. */
function workloadOf(s: Snapshot, e: Expectation | undefined, serviceAccount: string): { kind: string; name: string } | undefined {
  for (const o of [...s.roleBindings, ...s.roles]) {
    if (o.metadata?.name !== serviceAccount || !isManaged(o.metadata)) continue;
    const a = o.metadata.annotations?.["podlogreader.dev/workload"];
    if (a) {
      const [kind, ...rest] = a.split("/");
      return { kind: kind!, name: rest.join("/") };
    }
  }
  return e?.owner ? { kind: e.owner.kind, name: e.owner.name } : undefined;
}

/**
 * A grant left in a period without a way out: a violation unless the controller reported the
 * refusal since the period began: a RoleWriteRefused Warning on the workload, or on the object it
 * could not write (a workload that is gone can carry no Event), or a log line with that reason
 * naming the workload.
 */
function unreported(
  events: CoreV1Event[],
  logged: RefusalReport[],
  s: Snapshot,
  exp: Map<string, Expectation>,
  f: Found,
  period: RefusalPeriod,
): Found | undefined {
  const managed = f.serviceAccount ?? f.role;
  const w = managed ? workloadOf(s, exp.get(managed), managed) : undefined;
  // Event times have whole seconds.
  const since = Math.floor(period.start / 1000) * 1000;
  // On the workload, or (once it is gone) on the object of that name podlogreader could not write.
  const about = (o: CoreV1Event["involvedObject"]) =>
    !w ||
    (o.kind === w.kind && o.name === w.name) ||
    (["Role", "RoleBinding", "ServiceAccount"].includes(o.kind ?? "") && o.name === managed);
  const reported = events.some(
    (ev) =>
      ev.type === "Warning" &&
      ev.reason === REPORT_REASON &&
      about(ev.involvedObject) &&
      Date.parse(String(ev.lastTimestamp ?? ev.eventTime ?? ev.firstTimestamp ?? 0)) >= since,
  );
  const inLog = logged.some((r) => r.at >= period.start && r.namespace === s.namespace && (!w || (r.kind === w.kind && r.name === w.name)));
  if (reported || inLog) return undefined;
  return {
    type: "unreported-refusal",
    namespace: s.namespace,
    serviceAccount: f.serviceAccount,
    subject: f.subject,
    role: f.role,
    pod: f.pod,
    detail:
      `no way out while ${period.refusal.shape} is refused, and no ${REPORT_REASON} Warning or log line on ` +
      `${w ? `${w.kind}/${w.name}` : "its workload"} since the period began; left: ${f.type}: ${f.detail}`,
  };
}

async function judgeNamespace(
  ctx: CheckContext,
  s: Snapshot,
  exp: Map<string, Expectation>,
  checks: Record<ViolationType, number>,
  excuse: Set<ViolationType>,
): Promise<Found[]> {
  const found: Found[] = [];
  const ns = s.namespace;
  const pods = s.pods.map((p) => p.metadata!.name!);
  const sas = [...exp.keys()];
  // A name no pod has: readable only through a rule that grants every pod.
  const probe = `chaos-no-such-pod-${Date.now().toString(36)}`;
  // Names Roles still list for pods that are gone: a grant if anyone may still read them.
  const gone = goneNames(s);
  const answers = await ctx.authorizer.matrix(ns, sas, [...pods, probe, ...gone]);
  // Each grant's users and groups, about every pod its workload may not read, and the probe.
  const grants = liveGrants(s).map((g) => ({ ...g, ...grantScope(g, s, exp) }));
  const grantAnswers = await ctx.authorizer.subjectMatrix(
    ns,
    grants.flatMap((g) => g.subjects.flatMap((x) => [...pods.filter((p) => !g.pods.has(p)), probe].map((p) => [x, p] as const))),
  );
  // Verdicts count only for pods that stayed the same pod (or stayed gone) while the questions were asked.
  const before = new Map(s.pods.map((p) => [p.metadata!.name!, p.metadata!.uid!]));
  const after = new Map(
    (await listObjects<{ metadata: { name: string; uid: string } }>(ctx.api, Pods, ns)).map((p) => [p.metadata.name, p.metadata.uid]),
  );
  const stable = new Set(pods.filter((p) => before.get(p) === after.get(p)));
  for (const e of exp.values()) {
    const sa = e.serviceAccount;
    checks["over-grant"] += pods.length + 1;
    if (answers.get(`${sa}\0${probe}`))
      found.push({
        type: "over-grant",
        namespace: ns,
        serviceAccount: sa,
        pod: "(any pod)",
        detail: "may read the log of a pod that does not exist: some rule grants every pod",
      });
    if (e.roleForeign) checks["foreign-role-grant"] += pods.length;
    for (const pod of pods) {
      if (!stable.has(pod)) continue;
      const allowed = answers.get(`${sa}\0${pod}`) === true;
      if (allowed && e.roleForeign) {
        found.push({
          type: "foreign-role-grant",
          namespace: ns,
          serviceAccount: sa,
          pod,
          detail: `Role ${sa} is not podlogreader's, yet ${sa} may read this pod: a binding still points at it`,
        });
      } else if (allowed && !e.mayRead.has(pod)) {
        found.push({
          type: "over-grant",
          namespace: ns,
          serviceAccount: sa,
          pod,
          detail: e.owner ? `pod is not of ${e.owner.kind}/${e.owner.name}` : "no opted-in workload has this name",
        });
      }
      if (e.mustRead.has(pod) && !excuse.has("under-grant")) {
        checks["under-grant"]++;
        if (!allowed)
          found.push({
            type: "under-grant",
            namespace: ns,
            serviceAccount: sa,
            pod,
            detail: `pod of ${e.owner!.kind}/${e.owner!.name} is not readable`,
          });
      }
    }
    checks["stale-grant"] += gone.length;
    for (const pod of gone) {
      if (after.has(pod) || answers.get(`${sa}\0${pod}`) !== true) continue;
      found.push({
        type: "stale-grant",
        namespace: ns,
        serviceAccount: sa,
        pod,
        detail: `may still read the log of pod ${pod}, which is gone: the next pod of that name would be readable`,
      });
    }
    if (e.owner && !e.blocked && !excuse.has("missing-service-account")) {
      checks["missing-service-account"]++;
      if (!s.serviceAccounts.some((a) => a.metadata!.name === sa))
        found.push({
          type: "missing-service-account",
          namespace: ns,
          serviceAccount: sa,
          detail: `${e.owner.kind}/${e.owner.name} opted in but its ServiceAccount does not exist`,
        });
    }
  }
  for (const g of grants) {
    const why = g.broken ?? `pod is not of ${g.workload}`;
    for (const subject of g.subjects.map(subjectText)) {
      checks["over-grant"] += pods.length + 1;
      if (grantAnswers.get(`${subject}\0${probe}`))
        found.push({
          type: "over-grant",
          namespace: ns,
          subject,
          role: g.role,
          pod: "(any pod)",
          detail: `through grant ${g.binding}: may read the log of a pod that does not exist`,
        });
      for (const pod of pods) {
        if (!stable.has(pod) || g.pods.has(pod) || !grantAnswers.get(`${subject}\0${pod}`)) continue;
        found.push({ type: "over-grant", namespace: ns, subject, role: g.role, pod, detail: `through grant ${g.binding}: ${why}` });
      }
    }
  }
  checks.orphan += s.roles.length + s.roleBindings.length + s.serviceAccounts.length;
  for (const o of orphansOf(s, excuse))
    found.push({ type: "orphan", namespace: ns, detail: `${o.kind} ${o.name} (${o.workload}): ${o.why}` });
  if (!excuse.has("stale-name")) {
    checks["stale-name"] += s.roles.length;
    for (const n of staleNames(s))
      found.push({ type: "stale-name", namespace: ns, pod: n.pod, detail: `Role ${n.role} still names pod ${n.pod}, which is gone` });
  }
  checks["unbounded-role"] += s.roles.length;
  for (const r of unboundedRoles(s))
    found.push({ type: "unbounded-role", namespace: ns, detail: `Role ${r} grants pods/log with no resourceNames` });
  return found;
}

// The grants the run made, and the judge of their ends (grants.ts, rule 2): as each subject's
// deadline passes, a loop asks the authorizer whether it may still get the log of any pod of the
// namespace, of any name the workload's Role lists, or of a name no pod has. Grants are made and
// revoked as a person would: by running `podlogreader grant` and `revoke` with the admin kubeconfig.
import type { V1Pod, V1PolicyRule, V1Role } from "@kubernetes/client-node";
import { managedName } from "../../src/access/names.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { Pods, Roles } from "../../src/kube/resources.ts";
import type { Authorizer } from "./authorizer.ts";
import {
  endDeadline,
  endings,
  excusedSpans,
  readsPastDeadline,
  subjectText,
  type Answer,
  type Ending,
  type GrantRecord,
} from "./grants.ts";
import { getObject, listObjects, statusOf } from "./kube.ts";
import type { Timeline } from "./timeline.ts";

export interface Cli {
  binary: string;
  kubeconfig: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled podlogreader with the admin kubeconfig. */
export async function runCli(cli: Cli, args: string[]): Promise<CliResult> {
  const proc = Bun.spawn([cli.binary, ...args, "--kubeconfig", cli.kubeconfig], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** A subject that read something past its deadline. */
export interface EndedGrantRead {
  opIndex: number;
  namespace: string;
  subject: string;
  pod: string;
  detail: string;
}

export interface GrantCounts {
  /** Grants made (each with one or two subjects of its own). */
  made: number;
  subjects: number;
  /** Grants whose first subject was seen reading one of the workload's pods right after the grant. */
  readableWhenMade: number;
  /** Subjects whose end was judged, by how it ended. */
  expired: number;
  revoked: number;
  /** Subjects ended but not judged by the end of the run (their deadline not yet come). */
  pendingAtEnd: number;
  /** Subjects whose grant was still running at the end. */
  liveAtEnd: number;
  /** SubjectAccessReviews asked of ended subjects. */
  reviews: number;
  /** Longest wait from an expiry to its deadline (rule 2), in ms: how much a disturbance excused. */
  longestExpiryDeadlineMs: number;
  /**
   * Ends watched as they happened: from the end on, the subject is asked every 250 ms about the
   * first pod its workload's Role names, until denied. A figure for the report, not a verdict.
   */
  watchedEnds: number;
  /** From the end (expiry or revoke) to the first "denied", in ms, sorted. */
  observedEndMs: number[];
}

const TICK_MS = 500;
const keyOf = (e: Ending) => `${e.grant.namespace}\0${e.grant.binding}\0${subjectText(e.subject)}`;
const podNames = (rules: V1PolicyRule[] | undefined) =>
  (rules ?? []).filter((r) => (r.resources ?? []).includes("pods/log")).flatMap((r) => r.resourceNames ?? []);

export class GrantLedger {
  readonly records: GrantRecord[] = [];
  private readonly judged = new Set<string>();
  /** What the judge found; the harness takes them after each burst. */
  readonly found: EndedGrantRead[] = [];
  readonly counts: GrantCounts = {
    made: 0,
    subjects: 0,
    readableWhenMade: 0,
    expired: 0,
    revoked: 0,
    pendingAtEnd: 0,
    liveAtEnd: 0,
    reviews: 0,
    longestExpiryDeadlineMs: 0,
    watchedEnds: 0,
    observedEndMs: [],
  };
  private readonly watching = new Map<string, Promise<void>>();
  /** The five ends watched longest, for the report. */
  readonly longestEnds: { binding: string; subject: string; why: Ending["why"]; ms: number }[] = [];
  /** When the disturbing operation under way began, if one is: an excused span still open. */
  underWay: number | undefined;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly authorizer: Authorizer,
    private readonly timeline: Pick<Timeline, "disturbances">,
  ) {}

  add(g: GrantRecord): void {
    this.records.push(g);
    this.counts.made++;
    this.counts.subjects += g.subjects.length;
  }

  /** Grants with a subject not yet ended, in the order they were made. */
  live(now: number): GrantRecord[] {
    return this.records.filter((g) => endings(g).some((e) => e.at > now));
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.judgeDue().catch(() => {});
        await Bun.sleep(TICK_MS);
      }
    })();
  }

  /** Waits (at most `waitMs`) for every deadline that falls within it, then stops. */
  async finish(waitMs: number): Promise<void> {
    const until = Date.now() + waitMs;
    while (Date.now() < until && this.unjudged().some((e) => (this.deadlineOf(e) ?? Infinity) <= until)) await Bun.sleep(TICK_MS);
    this.running = false;
    await this.loop;
    await Promise.all(this.watching.values());
    this.counts.observedEndMs.sort((a, b) => a - b);
    const now = Date.now();
    for (const e of this.unjudged()) {
      if (e.at > now) this.counts.liveAtEnd++;
      else this.counts.pendingAtEnd++;
    }
  }

  /**
   * Whether the grant's first subject comes to read a pod the workload's Role names within 3 s: the
   * end judged later is then one of a grant that read something. Undefined when the Role names none.
   */
  async readableWhenMade(g: GrantRecord): Promise<boolean | undefined> {
    const role = await getObject<V1Role>(this.api, Roles, g.namespace, managedName(g.kind, g.name)).catch(() => undefined);
    const pod = podNames(role?.rules)[0];
    if (pod === undefined) return undefined;
    for (let i = 0; i < 12; i++) {
      if (await this.authorizer.subjectCanReadLog(g.namespace, g.subjects[0]!, pod)) {
        this.counts.readableWhenMade++;
        return true;
      }
      await Bun.sleep(250);
    }
    return false;
  }

  private unjudged(): Ending[] {
    return this.records.flatMap(endings).filter((e) => !this.judged.has(keyOf(e)));
  }

  private deadlineOf(e: Ending): number | undefined {
    return endDeadline(e, excusedSpans(this.timeline, this.underWay));
  }

  private async judgeDue(): Promise<void> {
    for (const e of this.records.flatMap(endings)) {
      if (e.at <= Date.now() && !this.watching.has(keyOf(e)))
        this.watching.set(
          keyOf(e),
          this.watchEnd(e).catch(() => {}),
        );
    }
    for (const e of this.unjudged()) {
      const deadline = this.deadlineOf(e);
      if (deadline === undefined || Date.now() < deadline) continue;
      await this.judge(e, deadline);
    }
  }

  /**
   * How long after its end the subject could still read the first pod its workload's Role names,
   * the Role read again each time (a pod that left the Role says nothing of the grant). A Role that
   * is gone or names no pod any more is read by nobody. At most 120 s watched; not counted when
   * the Role names no pod from the end on.
   */
  private async watchEnd(e: Ending): Promise<void> {
    const role = () =>
      getObject<V1Role>(this.api, Roles, e.grant.namespace, managedName(e.grant.kind, e.grant.name)).catch(() => undefined);
    let watched = false;
    const seen = (ms: number) => {
      this.counts.observedEndMs.push(ms);
      this.longestEnds.push({ binding: `${e.grant.namespace}/${e.grant.binding}`, subject: subjectText(e.subject), why: e.why, ms });
      this.longestEnds.sort((a, b) => b.ms - a.ms).splice(5);
    };
    while (Date.now() - e.at < 120_000) {
      const askedAt = Date.now();
      const pod = podNames((await role())?.rules)[0];
      if (pod === undefined) {
        if (watched) return seen(Math.max(0, askedAt - e.at));
      } else {
        if (!watched) this.counts.watchedEnds++;
        watched = true;
        if (!(await this.authorizer.subjectCanReadLog(e.grant.namespace, e.subject, pod))) return seen(Math.max(0, askedAt - e.at));
      }
      await Bun.sleep(250);
    }
    if (watched) seen(Date.now() - e.at);
  }

  private async judge(e: Ending, deadline: number): Promise<void> {
    const { namespace } = e.grant;
    const pods = (await listObjects<V1Pod>(this.api, Pods, namespace)).map((p) => p.metadata!.name!);
    let listed: string[] = [];
    try {
      listed = podNames((await getObject<V1Role>(this.api, Roles, namespace, managedName(e.grant.kind, e.grant.name))).rules);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    const targets = [...new Set([...pods, ...listed, `chaos-no-such-pod-${Date.now().toString(36)}`])];
    const answers: Answer[] = [];
    for (const pod of targets) {
      const askedAt = Date.now();
      this.counts.reviews++;
      answers.push({ pod, askedAt, allowed: await this.authorizer.subjectCanReadLog(namespace, e.subject, pod) });
    }
    this.judged.add(keyOf(e));
    this.counts[e.why]++;
    if (e.why === "expired") this.counts.longestExpiryDeadlineMs = Math.max(this.counts.longestExpiryDeadlineMs, deadline - e.at);
    const when = e.why === "revoked" ? "revoked" : "expired";
    for (const a of readsPastDeadline(deadline, answers)) {
      this.found.push({
        opIndex: e.grant.opIndex,
        namespace,
        subject: subjectText(e.subject),
        pod: a.pod,
        detail:
          `grant RoleBinding ${e.grant.binding} (${e.grant.kind}/${e.grant.name}) ${when} at ${new Date(e.at).toISOString()}, yet ` +
          `${subjectText(e.subject)} may read this pod's log ${((a.askedAt - e.at) / 1000).toFixed(1)}s later (deadline ` +
          `${((deadline - e.at) / 1000).toFixed(1)}s after)`,
      });
    }
  }
}

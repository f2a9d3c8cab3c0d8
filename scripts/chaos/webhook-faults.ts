// Faults of podlogreader's webhook authorizer (authorizer-front.ts) as chaos operations, and their
// judge. A fault begins when its operation runs and lasts its drawn while, the rest of the burst
// going on meanwhile; it is healed before the checks at quiescence, which then find the webhook
// answering again (in none mode every pod a ServiceAccount is owed is readable only through it).
// While it is in force the fault's own probe asks SubjectAccessReview, for every ServiceAccount,
// about every pod a healthy webhook would let it read plus one it would not, and judges:
//   - kill, pause, garbage, and slow past the apiserver's timeout: an "allowed" must be one the
//     Roles grant, as read before or after the questions (predictedReadable: a RoleBinding of the
//     namespace naming the ServiceAccount, to a Role whose pods/log rule names the pod or names
//     none). In none mode the managed Roles name no pod, so only a hand-edited name is readable.
//   - slow under the timeout: the webhook's answer may come through; an "allowed" must be a Role's,
//     or a pod of the ServiceAccount's own workload (what a healthy webhook grants).
// An "allowed" beyond that is asked again, still faulted, with the objects read afresh (a hand edit
// the controller mended in between is no finding); allowed again, it is a violation.
import type { KubeApi } from "../../src/kube/api.ts";
import type { Authorizer } from "./authorizer.ts";
import {
  answersNothing,
  describeMode,
  modeOf,
  type AuthorizerFront,
  type FrontMode,
  type WebhookFaultOp,
  type WebhookFaultType,
} from "./authorizer-front.ts";
import type { Violation } from "./checks.ts";
import { expectations, predictedReadable, type Snapshot } from "./model.ts";
import { loadSnapshot } from "./snapshot.ts";

/** At most this many questions per namespace and fault. */
const QUESTIONS_PER_NAMESPACE = 24;

type NameOf = Parameters<typeof expectations>[2];
export interface Question {
  serviceAccount: string;
  pod: string;
}

/** Every pod a healthy webhook would let each ServiceAccount read, and one it would not; capped. */
export function questionsFor(s: Snapshot, serviceAccounts: string[], nameOf: NameOf, cap = QUESTIONS_PER_NAMESPACE): Question[] {
  const own: Question[] = [];
  const other: Question[] = [];
  const pods = s.pods.map((p) => p.metadata!.name!);
  for (const e of expectations(s, serviceAccounts, nameOf).values()) {
    for (const pod of pods) if (e.mayRead.has(pod)) own.push({ serviceAccount: e.serviceAccount, pod });
    const outside = pods.find((p) => !e.mayRead.has(p));
    if (outside) other.push({ serviceAccount: e.serviceAccount, pod: outside });
  }
  return [...own, ...other].slice(0, cap);
}

/**
 * Why an answer given while the webhook was faulted grants more than it may, or undefined.
 * `snaps`: the namespace's objects as read around the question. `strict`: the webhook could give no
 * decision (answersNothing), so only the Roles may grant.
 */
export function excessOf(q: Question, allowed: boolean, snaps: Snapshot[], strict: boolean, nameOf: NameOf): string | undefined {
  if (!allowed) return undefined;
  if (
    snaps.some((s) => {
      const p = predictedReadable(s, q.serviceAccount);
      return p.all || p.names.has(q.pod);
    })
  )
    return undefined;
  if (strict) return "may read the pod while the webhook gives no decision, though no Role bound to it names the pod";
  if (snaps.some((s) => expectations(s, [q.serviceAccount], nameOf).get(q.serviceAccount)?.mayRead.has(q.pod))) return undefined;
  return "may read a pod outside its workload while the webhook is slow";
}

export interface WebhookFaultSummary {
  rolePodNames: "names" | "none";
  /** Faults begun, by operation type. */
  faults: Partial<Record<WebhookFaultType, number>>;
  /** SubjectAccessReview questions asked while a fault was in force, and how many were judged strictly. */
  questions: number;
  strictQuestions: number;
  /** Answered "allowed" while faulted: where only the Roles may grant, and where a slow answer came in time. */
  allowed: number;
  allowedInTime: number;
  /** Reviews the front received, and those it answered faulted. */
  frontReviews: number;
  frontFaulted: number;
}

export interface WebhookFaultDeps {
  api: KubeApi;
  authorizer: Authorizer;
  front: AuthorizerFront;
  namespaces: string[];
  serviceAccountsOf: (namespace: string, s: Snapshot) => string[];
  nameOf: NameOf;
  seed: number;
  log: (line: string) => void;
}

export class WebhookFaults {
  private pending: Promise<void> | undefined;
  private found: Omit<Violation, "burst">[] = [];
  readonly summary: WebhookFaultSummary;

  constructor(
    private readonly d: WebhookFaultDeps,
    rolePodNames: "names" | "none",
  ) {
    this.summary = {
      rolePodNames,
      faults: {},
      questions: 0,
      strictQuestions: 0,
      allowed: 0,
      allowedInTime: 0,
      frontReviews: 0,
      frontFaulted: 0,
    };
  }

  /** Begins the fault; it heals by itself after its while and its probe. Skipped while another is in force. */
  start(op: WebhookFaultOp): { status: "done" | "skipped"; detail: string } {
    if (this.pending) return { status: "skipped", detail: "a webhook fault is already in force" };
    const mode = modeOf(op);
    this.summary.faults[op.type] = (this.summary.faults[op.type] ?? 0) + 1;
    this.pending = this.run(op, mode)
      .catch((err) => this.d.log(`webhook fault of op ${op.index} (${describeMode(mode)}): ${(err as Error).message}`))
      .finally(() => {
        this.pending = undefined;
      });
    return { status: "done", detail: `${describeMode(mode)} for at least ${(op.ms / 1000).toFixed(1)}s` };
  }

  private async run(op: WebhookFaultOp, mode: FrontMode): Promise<void> {
    const started = Date.now();
    await this.d.front.set(mode);
    try {
      // Reviews already forwarded when the fault began may still bring a healthy answer.
      await Bun.sleep(300);
      await Promise.all(this.d.namespaces.map((ns) => this.probe(op.index, ns, answersNothing(mode))));
      const left = op.ms - (Date.now() - started);
      if (left > 0) await Bun.sleep(left);
    } finally {
      await this.d.front.set({ kind: "healthy" });
    }
  }

  private async probe(opIndex: number, ns: string, strict: boolean): Promise<void> {
    const { api, authorizer, nameOf } = this.d;
    const before = await loadSnapshot(api, ns);
    const questions = questionsFor(before, this.d.serviceAccountsOf(ns, before), nameOf);
    const answers = await Promise.all(questions.map((q) => authorizer.canReadLog(ns, q.serviceAccount, q.pod)));
    const after = await loadSnapshot(api, ns);
    this.summary.questions += questions.length;
    if (strict) this.summary.strictQuestions += questions.length;
    for (const [i, q] of questions.entries()) {
      if (!answers[i]) continue;
      if (!excessOf(q, true, [before, after], strict, nameOf)) {
        if (strict) this.summary.allowed++;
        else this.summary.allowedInTime++;
        continue;
      }
      // Asked again with the objects read afresh, the fault still in force.
      const again = await authorizer.canReadLog(ns, q.serviceAccount, q.pod);
      const excess = excessOf(q, again, [await loadSnapshot(api, ns)], strict, nameOf);
      if (!excess) continue;
      this.found.push({
        type: "webhook-fault-grant",
        seed: this.d.seed,
        opIndex,
        namespace: ns,
        serviceAccount: q.serviceAccount,
        pod: q.pod,
        detail: `${excess} (${describeMode(this.d.front.current)}, role pod names: ${this.summary.rolePodNames})`,
      });
    }
  }

  /** Waits for the fault in force to heal; the violations its probe found since the last call. */
  async settle(): Promise<Omit<Violation, "burst">[]> {
    await this.pending;
    this.summary.frontReviews = this.d.front.reviews;
    this.summary.frontFaulted = this.d.front.faulted;
    return this.found.splice(0);
  }
}

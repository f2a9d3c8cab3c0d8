// The operation sequence, drawn from the seeded PRNG and nothing else: the same seed always gives
// the same operations in the same order, in the same bursts. Each operation type draws a fixed
// count of numbers, so what the cluster answers (a target missing, a name taken) never shifts the
// stream; such operations are recorded as skipped. The one operation that draws nothing,
// lift-refusal, is placed by the plan itself: first in the burst where a refusal period ends.
import type { WorkloadKind } from "../../src/access/kinds.ts";
import type { Random } from "./random.ts";
import { POLICY_SHAPES, WEBHOOK_ANSWERS, WEBHOOK_SHAPES, type Refusal } from "./refusals.ts";
import { drawWebhookFault, WEBHOOK_FAULTS, type WebhookFaultOp } from "./authorizer-front.ts";

export interface Universe {
  namespaces: string[];
  /** Workload names, reused by every kind, so objects are deleted and made again under the same names. */
  names: string[];
  /** Names for bare and forged pods: some a StatefulSet would give its pods. */
  podNames: string[];
}

export function universe(namespaces: string[]): Universe {
  const names = ["w0", "w1", "w2"];
  return { namespaces, names, podNames: [...names.flatMap((n) => [0, 1, 2].map((i) => `${n}-${i}`)), "bare-0", "bare-1", "bare-2"] };
}

export const ALL_KINDS: WorkloadKind[] = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"];
export const SCALABLE: WorkloadKind[] = ["Deployment", "StatefulSet", "ReplicaSet", "Job"];
const ROLLABLE: WorkloadKind[] = ["Deployment", "StatefulSet", "DaemonSet", "CronJob"];
// A Job's pod template cannot change after creation.
const RELABELABLE: WorkloadKind[] = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob"];
const ADOPTERS: WorkloadKind[] = ["ReplicaSet", "StatefulSet", "DaemonSet"];
type ObjectKind = "Role" | "RoleBinding" | "ServiceAccount";
const OBJECT_KINDS: ObjectKind[] = ["Role", "RoleBinding", "ServiceAccount"];

interface Target {
  namespace: string;
  kind: WorkloadKind;
  name: string;
}

export type Op = { index: number } & (
  | ({ type: "create"; replicas: number; optIn: boolean } & Target)
  | ({ type: "scale"; replicas: number } & Target)
  | ({ type: "rollout" } & Target)
  | ({ type: "opt-in" } & Target)
  | ({ type: "opt-out" } & Target)
  | ({ type: "delete-workload"; orphan: boolean } & Target)
  // Deleted with propagationPolicy Orphan (garbage collection of its pods and managed objects held
  // off: they stay, with their old owner's UID until the collector strips it) and made again under
  // the same name as soon as the name is free.
  | ({ type: "recreate-orphaned"; replicas: number; optIn: boolean } & Target)
  | { type: "cronjob-run"; namespace: string; name: string; run: number }
  | { type: "delete-pod"; namespace: string; pick: number }
  | { type: "bare-pod"; namespace: string; pod: string; adoptableBy?: { kind: WorkloadKind; name: string } }
  | ({ type: "forged-pod"; pod: string; controller: boolean; realUid: boolean } & Target)
  | ({ type: "edit-role"; edit: "add-pod" | "remove-pod" | "empty-rules"; pod: string } & Target)
  | ({ type: "edit-rolebinding" } & Target)
  | ({ type: "foreign-object"; objectKind: ObjectKind } & Target)
  | ({ type: "delete-foreign"; objectKind: ObjectKind } & Target)
  | { type: "sweep-bare-pods"; namespace: string }
  | { type: "kill-replica"; replica: number }
  | { type: "kill-leader" }
  | { type: "pause-replica"; replica: number; seconds: number }
  | { type: "restart-apiserver" }
  | { type: "compact-etcd" }
  // A period in which writes to managed objects are refused in one shape (refusals.ts), until
  // lift-refusal `bursts` bursts later.
  | { type: "refuse-writes"; refusal: Refusal; bursts: number }
  | { type: "lift-refusal" }
  // A managed Role (the pick-th of the namespace's, by name) made someone else's: its marks
  // removed, or deleted and made again without them.
  | { type: "take-role"; namespace: string; pick: number; how: "unlabel" | "recreate" }
  // Every scalable workload of the namespace scaled at once; `delayMs` later the apiserver restarts
  // (after an etcd compaction, with "compact-restart"), so watches relist while writes are in flight.
  | { type: "write-storm"; namespace: string; replicas: number; relist: "compact-restart" | "restart"; delayMs: number }
  // The leader SIGSTOPped `delayMs` after every scalable workload of the namespace grew by `add`,
  // with pod arrivals queued; its Lease expires and the standby takes over; the workloads are
  // scaled back; then the old leader is SIGCONTed.
  | { type: "pause-leader-mid-write"; namespace: string; add: number; delayMs: number }
  // The webhook authorizer killed, paused, slow or answering garbage for `ms` (webhook-faults.ts).
  | Omit<WebhookFaultOp, "index">
  // `podlogreader grant` on the pick-th managed Role of the namespace (by name), to a user and/or a
  // group named after the operation (no other grant names them), for `seconds`.
  | { type: "grant"; namespace: string; pick: number; to: GrantTo; seconds: number }
  // The same to a user for a few seconds, then the leader SIGSTOPped for `pauseSeconds`: the grant
  // expires while the standby waits for the Lease.
  | { type: "grant-then-pause-leader"; namespace: string; pick: number; seconds: number; pauseSeconds: number }
  // `podlogreader revoke` of the pick-th running grant (in the order made): the whole binding by
  // name, or its first subject by workload and subject.
  | { type: "revoke"; pick: number; by: "binding" | "subject" }
);
export type GrantTo = "user" | "group" | "both";
export type OpType = Op["type"];

const WEIGHTS: [OpType, number][] = [
  ["create", 14],
  ["scale", 12],
  ["rollout", 6],
  ["opt-in", 6],
  ["opt-out", 5],
  ["delete-workload", 7],
  ["cronjob-run", 4],
  ["delete-pod", 8],
  ["bare-pod", 5],
  ["forged-pod", 7],
  ["edit-role", 6],
  ["edit-rolebinding", 3],
  ["foreign-object", 3],
  ["delete-foreign", 3],
  ["sweep-bare-pods", 1],
  ["kill-replica", 1],
  ["kill-leader", 1],
  ["pause-replica", 1],
  ["restart-apiserver", 0.7],
  ["compact-etcd", 1.5],
  ["refuse-writes", 3],
  ["take-role", 2],
  ["write-storm", 0.8],
  ["pause-leader-mid-write", 0.6],
  ["recreate-orphaned", 2],
  ...WEBHOOK_FAULTS.map((t): [OpType, number] => [t, 1]),
  ["grant", 6],
  ["grant-then-pause-leader", 0.7],
  ["revoke", 2],
];
export const OP_TYPES: OpType[] = [...WEIGHTS.map(([t]) => t), "lift-refusal"];

function target(rng: Random, u: Universe, kinds: WorkloadKind[]): Target {
  return { namespace: rng.pick(u.namespaces), kind: rng.pick(kinds), name: rng.pick(u.names) };
}

export function drawOp(rng: Random, u: Universe, index: number): Op {
  const type = rng.weighted(WEIGHTS) as Exclude<OpType, "lift-refusal">;
  switch (type) {
    case "create":
      return { index, type, ...target(rng, u, ALL_KINDS), replicas: rng.between(0, 3), optIn: rng.chance(0.7) };
    case "scale":
      return { index, type, ...target(rng, u, SCALABLE), replicas: rng.between(0, 3) };
    case "rollout":
      return { index, type, ...target(rng, u, ROLLABLE) };
    case "opt-in":
    case "opt-out":
      return { index, type, ...target(rng, u, RELABELABLE) };
    case "delete-workload": {
      const t = target(rng, u, ALL_KINDS);
      // Orphaning a StatefulSet leaves its pods behind under names it will reuse.
      return { index, type, ...t, orphan: rng.chance(0.4) && t.kind === "StatefulSet" };
    }
    case "recreate-orphaned":
      return { index, type, ...target(rng, u, ALL_KINDS), replicas: rng.between(0, 3), optIn: rng.chance(0.8) };
    case "cronjob-run":
      return { index, type, namespace: rng.pick(u.namespaces), name: rng.pick(u.names), run: rng.int(3) };
    case "delete-pod":
      return { index, type, namespace: rng.pick(u.namespaces), pick: rng.int(1000) };
    case "bare-pod": {
      const namespace = rng.pick(u.namespaces);
      const pod = rng.pick(u.podNames);
      const adoptable = rng.chance(0.4);
      const kind = rng.pick(ADOPTERS);
      const name = rng.pick(u.names);
      return { index, type, namespace, pod, ...(adoptable ? { adoptableBy: { kind, name } } : {}) };
    }
    case "forged-pod":
      return {
        index,
        type,
        ...target(rng, u, ALL_KINDS),
        pod: rng.pick(u.podNames),
        controller: rng.chance(0.6),
        realUid: rng.chance(0.6),
      };
    case "edit-role":
      return {
        index,
        type,
        ...target(rng, u, ALL_KINDS),
        edit: rng.pick(["add-pod", "remove-pod", "empty-rules"] as const),
        pod: rng.pick(u.podNames),
      };
    case "edit-rolebinding":
      return { index, type, ...target(rng, u, ALL_KINDS) };
    case "foreign-object":
    case "delete-foreign":
      return { index, type, ...target(rng, u, ALL_KINDS), objectKind: rng.pick(OBJECT_KINDS) };
    case "sweep-bare-pods":
      return { index, type, namespace: rng.pick(u.namespaces) };
    case "kill-replica":
      return { index, type, replica: rng.int(2) };
    case "pause-replica":
      return { index, type, replica: rng.int(2), seconds: rng.between(20, 60) };
    case "kill-leader":
    case "restart-apiserver":
    case "compact-etcd":
      return { index, type };
    case "refuse-writes":
      return { index, type, refusal: drawRefusal(rng), bursts: rng.between(1, 2) };
    case "take-role":
      return { index, type, namespace: rng.pick(u.namespaces), pick: rng.int(1000), how: rng.pick(["unlabel", "recreate"] as const) };
    case "write-storm":
      return {
        index,
        type,
        namespace: rng.pick(u.namespaces),
        replicas: rng.between(0, 3),
        relist: rng.pick(["compact-restart", "restart"] as const),
        delayMs: rng.between(0, 2000),
      };
    case "pause-leader-mid-write":
      return { index, type, namespace: rng.pick(u.namespaces), add: rng.between(1, 2), delayMs: rng.between(0, 600) };
    case "webhook-kill":
    case "webhook-pause":
    case "webhook-slow":
    case "webhook-garbage":
      return drawWebhookFault(rng, index, type);
    case "grant": {
      const namespace = rng.pick(u.namespaces);
      const pick = rng.int(1000);
      const to = rng.pick(["user", "group", "both"] as const);
      // Mostly 5-40 s, so that most end within the run; one in ten 10-60 min.
      const long = rng.chance(0.1);
      const short = rng.between(5, 40);
      const minutes = rng.between(10, 60);
      return { index, type, namespace, pick, to, seconds: long ? minutes * 60 : short };
    }
    case "grant-then-pause-leader":
      return {
        index,
        type,
        namespace: rng.pick(u.namespaces),
        pick: rng.int(1000),
        seconds: rng.between(2, 6),
        pauseSeconds: rng.between(20, 40),
      };
    case "revoke":
      return { index, type, pick: rng.int(1000), by: rng.pick(["binding", "subject"] as const) };
  }
}

/** Half the periods by admission policy, half by the webhook; always four numbers drawn. */
export function drawRefusal(rng: Random): Refusal {
  const byWebhook = rng.chance(0.5);
  const policyShape = rng.pick(POLICY_SHAPES);
  const webhookShape = rng.pick(WEBHOOK_SHAPES);
  const answer = rng.pick(WEBHOOK_ANSWERS);
  return byWebhook ? { shape: webhookShape, answer } : { shape: policyShape, answer: "policy" };
}

/** Bursts of 5 to 25 operations, forever; the caller decides when to stop. */
export function* bursts(rng: Random, u: Universe): Generator<Op[]> {
  let index = 0;
  /** The burst that begins by ending the refusal period in force. */
  let liftAt: number | undefined;
  for (let burst = 0; ; burst++) {
    const size = rng.between(5, 25);
    const ops: Op[] = [];
    if (liftAt === burst) {
      ops.push({ index: index++, type: "lift-refusal" });
      liftAt = undefined;
    }
    for (let i = 0; i < size; i++) {
      const op = drawOp(rng, u, index++);
      // A refusal drawn while one is in force is skipped when it runs and ends with it.
      if (op.type === "refuse-writes" && liftAt === undefined) liftAt = burst + op.bursts;
      ops.push(op);
    }
    yield ops;
  }
}

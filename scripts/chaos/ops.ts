// Carrying out one operation against the cluster. Targets are looked up when the operation runs;
// one that is missing (or a name that is taken) makes the operation "skipped", an API failure left
// after retries makes it "failed". Neither stops the run.
import type { V1CronJob, V1OwnerReference, V1Pod, V1PolicyRule, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import { isWorkloadKind, KINDS, type WorkloadKind } from "../../src/access/kinds.ts";
import { managedName } from "../../src/access/names.ts";
import { MANAGED_BY_LABEL, OPT_IN_LABEL, OPT_IN_VALUE, WORKLOAD_ANNOTATION } from "../../src/access/marks.ts";
import type { KubeApi, KubeObject } from "../../src/kube/api.ts";
import { Leases } from "../../src/kube/resources.ts";
import { Pods, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { restartApiserver, type ClusterState } from "../harness/controlplane.ts";
import { eventually } from "../harness/poll.ts";
import { endRefusal, isRefusal, startRefusal } from "./admission.ts";
import { compact } from "./etcd.ts";
import type { ForeignRecord } from "./foreign.ts";
import { runCli, type Cli, type GrantLedger } from "./grant-ledger.ts";
import { subjectText, type GrantSubject } from "./grants.ts";
import { create, createRaw, getObject, listObjects, mergePatch, remove, retrying, statusOf } from "./kube.ts";
import { appLabel, barePod, workload } from "./manifests.ts";
import { controllerRef, isManaged } from "./model.ts";
import { SCALABLE, type GrantTo, type Op } from "./plan.ts";
import { describeRefusal, type Refusal } from "./refusals.ts";
import type { Replicas } from "./replicas.ts";
import type { Timeline } from "./timeline.ts";
import type { RefusalWebhook } from "./webhook.ts";
import type { WebhookFaults } from "./webhook-faults.ts";

export type Outcome = { status: "done" | "skipped" | "failed"; detail?: string };
const done = (detail?: string): Outcome => ({ status: "done", detail });
const skipped = (detail: string): Outcome => ({ status: "skipped", detail });

export const INTRUDER = "chaos-intruder";
const FOREIGN_LABEL = { "chaos.podlogreader.dev/foreign": "true" };

export interface OpContext {
  api: KubeApi;
  cluster: ClusterState;
  replicas: Replicas;
  foreign: ForeignRecord;
  lease: { namespace: string; name: string };
  /** Upper bound on SIGSTOP pauses, from the options (not from the clock, so runs stay reproducible). */
  maxPauseSeconds: number;
  /** The namespaces the run uses (a refusal policy applies to these only). */
  namespaces: string[];
  /** The refusal of writes to managed objects in force, if any. */
  refusal?: Refusal;
  /** Serves the webhook refusals. */
  webhook?: RefusalWebhook;
  /** Where refusal periods begin and end. */
  timeline: Timeline;
  /** Faults of the webhook authorizer the apiserver calls. */
  webhookFaults?: WebhookFaults;
  /** What an operation itself saw go wrong, for the report (the judge at quiescence sees the rest). */
  findings: Finding[];
  /** The grants made, and the judge of their ends. */
  grants: GrantLedger;
  /** podlogreader itself, as a person with the admin kubeconfig runs it. */
  cli: Cli;
}

export interface Finding {
  type: "deposed-leader-write";
  opIndex: number;
  namespace: string;
  detail: string;
}

const templatePath = (kind: string) => (kind === "CronJob" ? ["jobTemplate", "spec", "template"] : ["template"]);

/** A merge patch that sets `leaf` at spec.<template path>.metadata. */
function templateMetadataPatch(kind: string, leaf: object): object {
  return { spec: templatePath(kind).reduceRight<object>((inner, key) => ({ [key]: inner }), { metadata: leaf }) };
}

async function uidOf(api: KubeApi, rt: ResourceType, namespace: string, name: string): Promise<string | undefined> {
  try {
    return (await getObject<{ metadata: { uid: string } }>(api, rt, namespace, name)).metadata.uid;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export async function execute(ctx: OpContext, op: Op): Promise<Outcome> {
  try {
    return await run(ctx, op);
  } catch (err) {
    const status = statusOf(err);
    if (isRefusal(err)) return skipped("refused by the chaos admission policy or webhook");
    if (status === 404) return skipped("target not found");
    if (status === 409) return skipped("name taken or object changed");
    return { status: "failed", detail: (err as Error).message.slice(0, 300) };
  }
}

async function run(ctx: OpContext, op: Op): Promise<Outcome> {
  const { api } = ctx;
  switch (op.type) {
    case "create":
      await create(api, KINDS[op.kind].resource, op.namespace, workload(op.kind, op.name, op.replicas, op.optIn));
      return done();
    case "scale": {
      const field = op.kind === "Job" ? "parallelism" : "replicas";
      await mergePatch(api, KINDS[op.kind].resource, op.namespace, op.name, { spec: { [field]: op.replicas } });
      return done();
    }
    case "rollout": {
      const rt = KINDS[op.kind].resource;
      await mergePatch(
        api,
        rt,
        op.namespace,
        op.name,
        templateMetadataPatch(op.kind, { annotations: { "chaos.podlogreader.dev/rollout": String(op.index) } }),
      );
      if (op.kind === "StatefulSet") {
        // OnDelete: the new template reaches the pods when they are deleted.
        const pods = await podsWith(api, op.namespace, appLabel(op.kind, op.name));
        for (const p of pods) await deletePod(api, op.namespace, p.metadata!.name!);
      }
      return done();
    }
    case "opt-in":
    case "opt-out":
      await mergePatch(
        api,
        KINDS[op.kind].resource,
        op.namespace,
        op.name,
        templateMetadataPatch(op.kind, { labels: { [OPT_IN_LABEL]: op.type === "opt-in" ? OPT_IN_VALUE : null } }),
      );
      return done();
    case "delete-workload":
      await remove(api, KINDS[op.kind].resource, op.namespace, op.name, op.orphan ? "Orphan" : "Background");
      return done(op.orphan ? "orphaned its pods" : undefined);
    case "recreate-orphaned":
      return recreateOrphaned(ctx, op);
    case "cronjob-run": {
      // What `kubectl create job --from=cronjob/NAME` makes.
      const cron = await getObject<V1CronJob>(api, KINDS.CronJob.resource, op.namespace, op.name);
      const template = cron.spec!.jobTemplate;
      await create(api, KINDS.Job.resource, op.namespace, {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: {
          name: `${op.name}-run${op.run}`,
          labels: template.metadata?.labels,
          annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
          ownerReferences: [
            {
              apiVersion: "batch/v1",
              kind: "CronJob",
              name: op.name,
              uid: cron.metadata!.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: template.spec,
      });
      return done();
    }
    case "delete-pod": {
      const pods = (await listObjects<V1Pod>(api, Pods, op.namespace)).map((p) => p.metadata!.name!).sort();
      if (pods.length === 0) return skipped("no pods");
      const name = pods[op.pick % pods.length]!;
      await deletePod(api, op.namespace, name);
      return done(name);
    }
    case "bare-pod": {
      const extra = op.adoptableBy ? appLabel(op.adoptableBy.kind, op.adoptableBy.name) : {};
      await create(api, Pods, op.namespace, barePod(op.pod, [], extra));
      return done(op.adoptableBy ? `adoptable by ${op.adoptableBy.kind}/${op.adoptableBy.name}` : undefined);
    }
    case "forged-pod": {
      const uid = op.realUid
        ? await uidOf(api, KINDS[op.kind].resource, op.namespace, op.name)
        : `00000000-0000-4000-8000-${String(op.index).padStart(12, "0")}`;
      if (!uid) return skipped("target not found");
      const owner: V1OwnerReference = {
        apiVersion: KINDS[op.kind].apiVersion,
        kind: op.kind,
        name: op.name,
        uid,
        controller: op.controller,
      };
      await create(api, Pods, op.namespace, barePod(op.pod, [owner], { "chaos.podlogreader.dev/forged": "true" }));
      return done(`${op.controller ? "controller" : "non-controller"} ref, ${op.realUid ? "real" : "wrong"} UID`);
    }
    case "edit-role":
      return editRole(ctx, op);
    case "edit-rolebinding": {
      const name = managedName(op.kind, op.name);
      const rb = await getObject<V1RoleBinding>(api, RoleBindings, op.namespace, name);
      if (!isManaged(rb.metadata)) return skipped("not managed");
      rb.subjects = [...(rb.subjects ?? []), { kind: "ServiceAccount", name: INTRUDER, namespace: op.namespace }];
      await put(api, RoleBindings, op.namespace, rb);
      return done();
    }
    case "foreign-object":
      return createForeign(ctx, op);
    case "delete-foreign": {
      const name = managedName(op.kind, op.name);
      const record = ctx.foreign.get(op.objectKind, op.namespace, name);
      if (!record) return skipped("no foreign object of that name");
      await ctx.foreign.verifyThenDelete(api, record, op.index);
      return done();
    }
    case "sweep-bare-pods": {
      const pods = (await listObjects<V1Pod>(api, Pods, op.namespace)).filter((p) => !controllerRef(p.metadata));
      for (const p of pods) await deletePod(api, op.namespace, p.metadata!.name!);
      return pods.length ? done(`${pods.length} pod(s)`) : skipped("no bare pods");
    }
    case "kill-replica":
      await ctx.replicas.kill(op.replica % ctx.replicas.count);
      return done();
    case "kill-leader": {
      const lease = await getObject<{ spec?: { holderIdentity?: string } }>(api, Leases, ctx.lease.namespace, ctx.lease.name).catch(
        () => undefined,
      );
      const holder = lease?.spec?.holderIdentity;
      const index = holder ? ctx.replicas.indexOf(holder) : undefined;
      if (index === undefined) return skipped("no known leader");
      await ctx.replicas.kill(index);
      return done(`replica ${index}`);
    }
    case "pause-replica": {
      const seconds = Math.min(op.seconds, ctx.maxPauseSeconds);
      return ctx.replicas.pause(op.replica % ctx.replicas.count, seconds * 1000)
        ? done(`replica ${op.replica} for ${seconds}s`)
        : skipped("a replica is already paused");
    }
    case "restart-apiserver":
      await restartApiserver(ctx.cluster);
      return done();
    case "compact-etcd":
      return done(`to revision ${await compact(ctx.cluster.ports.etcd)}`);
    case "refuse-writes": {
      if (ctx.refusal) return skipped(`a refusal (${describeRefusal(ctx.refusal)}) is already in force`);
      // In force from the moment the policy may be, so no check runs unexcused while it is.
      ctx.refusal = op.refusal;
      ctx.timeline.beginPeriod(op.refusal, op.index, Date.now());
      let started = false;
      try {
        started = await startRefusal(api, op.refusal, ctx.namespaces, ctx.lease.namespace, ctx.webhook);
      } finally {
        if (!started) {
          await endRefusal(api, ctx.lease.namespace, op.refusal);
          ctx.timeline.endPeriod(Date.now());
          ctx.refusal = undefined;
        }
      }
      return started ? done(`${describeRefusal(op.refusal)}, for ${op.bursts} burst(s)`) : skipped("a refusal already exists");
    }
    case "lift-refusal": {
      const ended = ctx.refusal;
      await endRefusal(api, ctx.lease.namespace, ended);
      // Over once the probe shows it lifted: until then it counts as in force.
      ctx.timeline.endPeriod(Date.now());
      ctx.refusal = undefined;
      return ended ? done(describeRefusal(ended)) : skipped("no refusal in force");
    }
    case "take-role":
      return takeRole(ctx, op);
    case "write-storm":
      return writeStorm(ctx, op);
    case "pause-leader-mid-write":
      return pauseLeaderMidWrite(ctx, op);
    case "webhook-kill":
    case "webhook-pause":
    case "webhook-slow":
    case "webhook-garbage":
      return ctx.webhookFaults ? ctx.webhookFaults.start(op) : skipped("the apiserver calls no webhook authorizer");
    case "grant":
      return grant(ctx, op.index, op.namespace, op.pick, grantSubjects(op.to, op.index), op.seconds);
    case "grant-then-pause-leader":
      return grantThenPauseLeader(ctx, op);
    case "revoke":
      return revoke(ctx, op);
  }
}

async function podsWith(api: KubeApi, namespace: string, labels: Record<string, string>): Promise<V1Pod[]> {
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return retrying(async () => (await api.list(Pods, { namespace, labelSelector: selector })).items as V1Pod[]);
}

async function deletePod(api: KubeApi, namespace: string, name: string): Promise<void> {
  try {
    await remove(api, Pods, namespace, name);
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}

async function put(api: KubeApi, rt: ResourceType, namespace: string, body: KubeObject): Promise<void> {
  await retrying(() => api.update(rt, namespace, body, { fieldManager: "chaos-hand-edit" }));
}

const isPodRule = (r: V1PolicyRule) => (r.resources ?? []).includes("pods/log");

async function editRole(ctx: OpContext, op: Extract<Op, { type: "edit-role" }>): Promise<Outcome> {
  const name = managedName(op.kind, op.name);
  const role = await getObject<V1Role>(ctx.api, Roles, op.namespace, name);
  if (!isManaged(role.metadata)) return skipped("not managed");
  const rules = role.rules ?? [];
  switch (op.edit) {
    case "add-pod": {
      const rule = rules.find(isPodRule);
      if (rule) rule.resourceNames = [...(rule.resourceNames ?? []), op.pod];
      else rules.push({ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: [op.pod] });
      role.rules = rules;
      break;
    }
    case "remove-pod": {
      const rule = rules.find(isPodRule);
      if (!rule?.resourceNames?.length) return skipped("no pod named");
      rule.resourceNames = rule.resourceNames.slice(1);
      // An emptied list would grant every pod: drop the rule instead, as any careful hand would.
      role.rules = rule.resourceNames.length ? rules : rules.filter((r) => r !== rule);
      break;
    }
    case "empty-rules":
      role.rules = [];
      break;
  }
  await put(ctx.api, Roles, op.namespace, role);
  return done(op.edit === "add-pod" ? op.pod : undefined);
}

/**
 * Someone else takes a managed Role: removes podlogreader's label (and the ownerReference, so the
 * Role outlives the workload, as an owner taking it over would), or deletes it and makes one of the
 * same name and rules without the marks. Either way it is recorded as foreign from then on.
 */
async function takeRole(ctx: OpContext, op: Extract<Op, { type: "take-role" }>): Promise<Outcome> {
  const managed = (await listObjects<V1Role>(ctx.api, Roles, op.namespace))
    .filter((r) => isManaged(r.metadata))
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  if (managed.length === 0) return skipped("no managed Roles");
  const role = managed[op.pick % managed.length]!;
  const name = role.metadata!.name!;
  let raw: string;
  if (op.how === "unlabel") {
    const patch = {
      metadata: { resourceVersion: role.metadata!.resourceVersion, labels: { [MANAGED_BY_LABEL]: null }, ownerReferences: null },
    };
    raw = JSON.stringify(await mergePatch(ctx.api, Roles, op.namespace, name, patch));
  } else {
    await retrying(() =>
      ctx.api.delete(Roles, op.namespace, name, { uid: role.metadata!.uid, resourceVersion: role.metadata!.resourceVersion }),
    );
    // Made at once: podlogreader, seeing its Role gone, may take the name first (then: skipped, 409).
    raw = await createRaw(ctx.api, Roles, op.namespace, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, labels: FOREIGN_LABEL },
      rules: role.rules,
    });
  }
  ctx.foreign.add({ objectKind: "Role", namespace: op.namespace, name, raw, createdByOp: op.index });
  return done(`${op.how}: Role ${name}`);
}

/** The scalable workloads of a namespace with their current replicas (parallelism for a Job), sorted. */
async function scalables(api: KubeApi, namespace: string): Promise<{ kind: (typeof SCALABLE)[number]; name: string; replicas: number }[]> {
  const lists = await Promise.all(
    SCALABLE.map(async (kind) =>
      (
        await listObjects<{ metadata: { name: string }; spec?: { replicas?: number; parallelism?: number } }>(
          api,
          KINDS[kind].resource,
          namespace,
        )
      ).map((w) => ({ kind, name: w.metadata.name, replicas: (kind === "Job" ? w.spec?.parallelism : w.spec?.replicas) ?? 1 })),
    ),
  );
  return lists.flat().sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
}

function scaleTo(
  api: KubeApi,
  namespace: string,
  w: { kind: (typeof SCALABLE)[number]; name: string },
  replicas: number,
): Promise<unknown> {
  return mergePatch(api, KINDS[w.kind].resource, namespace, w.name, {
    spec: { [w.kind === "Job" ? "parallelism" : "replicas"]: replicas },
  }).catch((err) => {
    if (statusOf(err) !== 404) throw err;
  });
}

/** Scales every scalable workload at once, then restarts the apiserver while the controller writes, so its watches relist. */
async function writeStorm(ctx: OpContext, op: Extract<Op, { type: "write-storm" }>): Promise<Outcome> {
  const targets = await scalables(ctx.api, op.namespace);
  if (targets.length === 0) return skipped("no scalable workloads");
  const writes = Promise.all(targets.map((w) => scaleTo(ctx.api, op.namespace, w, op.replicas)));
  await Bun.sleep(op.delayMs);
  // Compacted first, the watches that resume after the restart are answered 410 Gone and relist.
  const revision = op.relist === "compact-restart" ? await compact(ctx.cluster.ports.etcd) : undefined;
  await restartApiserver(ctx.cluster);
  await writes;
  return done(
    `${targets.length} workload(s) to ${op.replicas}${revision ? `, compacted to ${revision}` : ""}, apiserver restarted after ` +
      `${op.delayMs}ms`,
  );
}

async function leaseHolder(ctx: OpContext): Promise<string | undefined> {
  const lease = await getObject<{ spec?: { holderIdentity?: string } }>(ctx.api, Leases, ctx.lease.namespace, ctx.lease.name).catch(
    () => undefined,
  );
  return lease?.spec?.holderIdentity;
}

async function managedRoleNames(api: KubeApi, namespace: string): Promise<Map<string, Set<string>>> {
  const roles = (await listObjects<V1Role>(api, Roles, namespace)).filter((r) => isManaged(r.metadata));
  return new Map(
    roles.map((r) => [r.metadata!.name!, new Set((r.rules ?? []).filter(isPodRule).flatMap((rule) => rule.resourceNames ?? []))]),
  );
}

/**
 * The leader is stopped with pod arrivals queued; while it is stopped its Lease expires, the standby
 * takes over, and the workloads are scaled back so the pods it queued are gone. Once the new leader
 * has removed their names, the old one is continued: a Role that names one of those pods again was
 * written by a leader that no longer held the Lease.
 */
async function pauseLeaderMidWrite(ctx: OpContext, op: Extract<Op, { type: "pause-leader-mid-write" }>): Promise<Outcome> {
  const holder = await leaseHolder(ctx);
  const index = holder ? ctx.replicas.indexOf(holder) : undefined;
  if (index === undefined) return skipped("no known leader");
  if (ctx.replicas.pausedIndex !== undefined) return skipped("a replica is already paused");
  const targets = await scalables(ctx.api, op.namespace);
  if (targets.length === 0) return skipped("no scalable workloads");
  await Promise.all(targets.map((w) => scaleTo(ctx.api, op.namespace, w, w.replicas + op.add)));
  await Bun.sleep(op.delayMs);
  const podNames = async () => (await listObjects<V1Pod>(ctx.api, Pods, op.namespace)).map((p) => p.metadata!.name!);
  const seen = new Set(await podNames());
  if (!ctx.replicas.pause(index, ctx.maxPauseSeconds * 1000)) return skipped("a replica is already paused");
  try {
    const takenOver = await holdsWithin(40_000, async () => {
      const now = await leaseHolder(ctx);
      return now !== undefined && now !== holder;
    });
    if (!takenOver) return done(`replica ${index} paused, but no standby took the Lease within 40s`);
    for (const p of await podNames()) seen.add(p);
    await Promise.all(targets.map((w) => scaleTo(ctx.api, op.namespace, w, w.replicas)));
    // Gone: the pods seen since the scale-up that are not there now.
    const gone = async () => {
      const now = new Set(await podNames());
      return [...seen].filter((p) => !now.has(p));
    };
    await holdsWithin(15_000, async () => (await gone()).length > 0);
    const removed = new Set(await gone());
    const listsRemoved = async () =>
      [...(await managedRoleNames(ctx.api, op.namespace))].flatMap(([role, names]) =>
        [...names].filter((n) => removed.has(n)).map((n) => `${role}: ${n}`),
      );
    await holdsWithin(20_000, async () => (await listsRemoved()).length === 0);
    const before = new Set(await listsRemoved());
    ctx.replicas.resume();
    let again: string[] = [];
    await holdsWithin(8_000, async () => {
      again = (await listsRemoved()).filter((x) => !before.has(x));
      return again.length > 0;
    });
    if (again.length) {
      ctx.findings.push({
        type: "deposed-leader-write",
        opIndex: op.index,
        namespace: op.namespace,
        detail:
          `after replica ${index} lost the Lease while stopped and was continued, Roles named pods deleted meanwhile again: ` +
          `${again.slice(0, 5).join(", ")}`,
      });
    }
    return done(
      `replica ${index} paused until the standby led; ${removed.size} pod(s) removed meanwhile; ${again.length} name(s) written back`,
    );
  } finally {
    ctx.replicas.resume();
  }
}

/**
 * Deletes the workload leaving its dependents (pods, ReplicaSets, Jobs, and podlogreader's Role,
 * RoleBinding and ServiceAccount) to the garbage collector's orphaning, and makes a new one of the
 * same kind and name as soon as the old one is gone: the dependents of the old UID meet the new one.
 */
async function recreateOrphaned(ctx: OpContext, op: Extract<Op, { type: "recreate-orphaned" }>): Promise<Outcome> {
  const rt = KINDS[op.kind].resource;
  const uid = await uidOf(ctx.api, rt, op.namespace, op.name);
  if (!uid) return skipped("target not found");
  await retrying(() => ctx.api.delete(rt, op.namespace, op.name, { uid }, "Orphan"));
  const gone = await holdsWithin(30_000, async () => (await uidOf(ctx.api, rt, op.namespace, op.name)) !== uid);
  if (!gone) return done(`old ${op.kind} ${uid} still finalizing after 30s; not made again`);
  await create(ctx.api, rt, op.namespace, workload(op.kind, op.name, op.replicas, op.optIn));
  return done(`old UID ${uid} orphaned its dependents; made again${op.optIn ? ", opted in" : ""}`);
}

/** Whether `check` comes to hold within `ms` (polled every 250 ms). */
const holdsWithin = (ms: number, check: () => Promise<boolean>): Promise<boolean> =>
  eventually("", async () => (await check()) || undefined, ms, 250).then(
    () => true,
    () => false,
  );

async function createForeign(ctx: OpContext, op: Extract<Op, { type: "foreign-object" }>): Promise<Outcome> {
  const name = managedName(op.kind, op.name);
  const metadata = { name, labels: FOREIGN_LABEL };
  const body =
    op.objectKind === "Role"
      ? {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata,
          rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
        }
      : op.objectKind === "RoleBinding"
        ? {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata,
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "chaos-foreign-viewer" },
            subjects: [{ kind: "ServiceAccount", name: "chaos-foreign", namespace: op.namespace }],
          }
        : { apiVersion: "v1", kind: "ServiceAccount", metadata };
  const rt = op.objectKind === "Role" ? Roles : op.objectKind === "RoleBinding" ? RoleBindings : ServiceAccounts;
  const raw = await createRaw(ctx.api, rt, op.namespace, body);
  ctx.foreign.add({ objectKind: op.objectKind, namespace: op.namespace, name, raw, createdByOp: op.index });
  return done(`${op.objectKind} ${name}`);
}

/** Users and groups no other grant of the run names, so that each verdict is about one grant. */
function grantSubjects(to: GrantTo, index: number): GrantSubject[] {
  const user: GrantSubject = { kind: "User", name: `chaos-user-${index}` };
  const group: GrantSubject = { kind: "Group", name: `chaos-group-${index}` };
  return to === "user" ? [user] : to === "group" ? [group] : [user, group];
}

/** kubectl's short names, as a person types them. */
const SHORT: Record<WorkloadKind, string> = {
  Deployment: "deploy",
  StatefulSet: "sts",
  DaemonSet: "ds",
  ReplicaSet: "rs",
  Job: "job",
  CronJob: "cronjob",
};

/** The workload of the pick-th managed Role of the namespace (by name), from the Role's annotation. */
async function pickManagedWorkload(
  api: KubeApi,
  namespace: string,
  pick: number,
): Promise<{ kind: WorkloadKind; name: string } | undefined> {
  const roles = (await listObjects<V1Role>(api, Roles, namespace))
    .filter((r) => isManaged(r.metadata) && r.metadata?.annotations?.[WORKLOAD_ANNOTATION])
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  if (roles.length === 0) return undefined;
  const [kind, ...rest] = roles[pick % roles.length]!.metadata!.annotations![WORKLOAD_ANNOTATION]!.split("/");
  return kind && isWorkloadKind(kind) ? { kind, name: rest.join("/") } : undefined;
}

/** What the command's refusal means for the run: the Role went (or was taken) before it looked, or a real failure. */
function cliOutcome(command: string, r: { code: number; stderr: string }): Outcome {
  const line = r.stderr.trim().split("\n")[0] ?? "";
  if (/does not exist|was not created by podlogreader|no grant of|not issued by podlogreader/.test(r.stderr))
    return skipped(line.slice(0, 300));
  return { status: "failed", detail: `${command} exited ${r.code}: ${line.slice(0, 300)}` };
}

/** `podlogreader grant` on a workload with a managed Role, recorded in the ledger. */
async function grant(
  ctx: OpContext,
  index: number,
  namespace: string,
  pick: number,
  subjects: GrantSubject[],
  seconds: number,
): Promise<Outcome> {
  const w = await pickManagedWorkload(ctx.api, namespace, pick);
  if (!w) return skipped("no managed Roles");
  const grantedAt = Date.now();
  const r = await runCli(ctx.cli, [
    "grant",
    "-n",
    namespace,
    `${SHORT[w.kind]}/${w.name}`,
    ...subjects.flatMap((x) => ["--to", subjectText(x)]),
    "--for",
    `${seconds}s`,
    "--reason",
    `chaos op ${index}`,
    "-o",
    "json",
  ]);
  if (r.code !== 0) return cliOutcome("grant", r);
  const out = JSON.parse(r.stdout) as { binding: string; expires: string };
  const record = {
    opIndex: index,
    namespace,
    kind: w.kind,
    name: w.name,
    binding: out.binding,
    subjects,
    grantedAt,
    expiresAt: Date.parse(out.expires),
    revokedAt: {},
  };
  ctx.grants.add(record);
  const readable = await ctx.grants.readableWhenMade(record);
  return done(
    `${subjects.map(subjectText).join(", ")} on ${w.kind}/${w.name} for ${seconds}s, until ${out.expires} ` +
      `(${out.binding}${readable === undefined ? "; its Role names no pod" : readable ? "" : "; its first subject read nothing in 3s"})`,
  );
}

/** A short grant, then the leader stopped (a replica.pause, as pause-replica does) past its expiry. */
async function grantThenPauseLeader(ctx: OpContext, op: Extract<Op, { type: "grant-then-pause-leader" }>): Promise<Outcome> {
  if (ctx.replicas.pausedIndex !== undefined) return skipped("a replica is already paused");
  const granted = await grant(ctx, op.index, op.namespace, op.pick, grantSubjects("user", op.index), op.seconds);
  if (granted.status !== "done") return granted;
  const holder = await leaseHolder(ctx);
  const index = holder ? ctx.replicas.indexOf(holder) : undefined;
  const seconds = Math.min(op.pauseSeconds, ctx.maxPauseSeconds);
  if (index === undefined || !ctx.replicas.pause(index, seconds * 1000)) return done(`${granted.detail}; no known leader to pause`);
  return done(`${granted.detail}; leader (replica ${index}) paused for ${seconds}s`);
}

/** `podlogreader revoke` of a running grant: by the binding's name, or its first subject left by workload and subject. */
async function revoke(ctx: OpContext, op: Extract<Op, { type: "revoke" }>): Promise<Outcome> {
  const live = ctx.grants.live(Date.now());
  if (live.length === 0) return skipped("no running grants");
  const g = live[op.pick % live.length]!;
  const left = g.subjects.filter((x) => g.revokedAt[subjectText(x)] === undefined);
  const ended = op.by === "binding" ? left : left.slice(0, 1);
  const args =
    op.by === "binding"
      ? ["revoke", "-n", g.namespace, "--name", g.binding, "-o", "json"]
      : ["revoke", "-n", g.namespace, `${SHORT[g.kind]}/${g.name}`, "--to", subjectText(ended[0]!), "-o", "json"];
  const r = await runCli(ctx.cli, args);
  if (r.code !== 0) return cliOutcome("revoke", r);
  const at = Date.now();
  for (const x of ended) g.revokedAt[subjectText(x)] = at;
  return done(`${ended.map(subjectText).join(", ")} from ${g.binding} (op ${g.opIndex})`);
}

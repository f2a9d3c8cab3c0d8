// Carrying out one operation against the cluster. Targets are looked up when the operation runs;
// one that is missing (or a name that is taken) makes the operation "skipped", an API failure left
// after retries makes it "failed". Neither stops the run.
import type { V1CronJob, V1OwnerReference, V1Pod, V1PolicyRule, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import { KINDS } from "../../src/access/kinds.ts";
import { managedName } from "../../src/access/names.ts";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../../src/access/marks.ts";
import type { KubeApi, KubeObject } from "../../src/kube/api.ts";
import { Leases } from "../../src/kube/resources.ts";
import { Pods, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { restartApiserver, type ClusterState } from "../lib/controlplane.ts";
import { compact } from "./etcd.ts";
import { ForeignRecord } from "./foreign.ts";
import { create, createRaw, getObject, listObjects, mergePatch, remove, retrying, statusOf } from "./kube.ts";
import { appLabel, barePod, workload } from "./manifests.ts";
import { controllerRef, isManaged } from "./model.ts";
import type { Op } from "./plan.ts";
import type { Replicas } from "./replicas.ts";

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
      await mergePatch(api, rt, op.namespace, op.name, templateMetadataPatch(op.kind, { annotations: { "chaos.podlogreader.dev/rollout": String(op.index) } }));
      if (op.kind === "StatefulSet") {
        // OnDelete: the new template reaches the pods when they are deleted.
        const pods = await podsWith(api, op.namespace, appLabel(op.kind, op.name));
        for (const p of pods) await deletePod(api, op.namespace, p.metadata!.name!);
      }
      return done();
    }
    case "opt-in":
    case "opt-out":
      await mergePatch(api, KINDS[op.kind].resource, op.namespace, op.name,
        templateMetadataPatch(op.kind, { labels: { [OPT_IN_LABEL]: op.type === "opt-in" ? OPT_IN_VALUE : null } }));
      return done();
    case "delete-workload":
      await remove(api, KINDS[op.kind].resource, op.namespace, op.name, op.orphan ? "Orphan" : "Background");
      return done(op.orphan ? "orphaned its pods" : undefined);
    case "cronjob-run": {
      // What `kubectl create job --from=cronjob/NAME` makes.
      const cron = await getObject<V1CronJob>(api, KINDS.CronJob.resource, op.namespace, op.name);
      const template = cron.spec!.jobTemplate;
      await create(api, KINDS.Job.resource, op.namespace, {
        apiVersion: "batch/v1", kind: "Job",
        metadata: {
          name: `${op.name}-run${op.run}`, labels: template.metadata?.labels, annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
          ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: op.name, uid: cron.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
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
      const uid = op.realUid ? await uidOf(api, KINDS[op.kind].resource, op.namespace, op.name) : `00000000-0000-4000-8000-${String(op.index).padStart(12, "0")}`;
      if (!uid) return skipped("target not found");
      const owner: V1OwnerReference = { apiVersion: KINDS[op.kind].apiVersion, kind: op.kind, name: op.name, uid, controller: op.controller };
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
      const lease = await getObject<{ spec?: { holderIdentity?: string } }>(api, Leases, ctx.lease.namespace, ctx.lease.name).catch(() => undefined);
      const holder = lease?.spec?.holderIdentity;
      const index = holder ? ctx.replicas.indexOf(holder) : undefined;
      if (index === undefined) return skipped("no known leader");
      await ctx.replicas.kill(index);
      return done(`replica ${index}`);
    }
    case "pause-replica": {
      const seconds = Math.min(op.seconds, ctx.maxPauseSeconds);
      return ctx.replicas.pause(op.replica % ctx.replicas.count, seconds * 1000) ? done(`replica ${op.replica} for ${seconds}s`) : skipped("a replica is already paused");
    }
    case "restart-apiserver":
      await restartApiserver(ctx.cluster);
      return done();
    case "compact-etcd":
      return done(`to revision ${await compact(ctx.cluster.ports.etcd)}`);
  }
}

async function podsWith(api: KubeApi, namespace: string, labels: Record<string, string>): Promise<V1Pod[]> {
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
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

async function createForeign(ctx: OpContext, op: Extract<Op, { type: "foreign-object" }>): Promise<Outcome> {
  const name = managedName(op.kind, op.name);
  const metadata = { name, labels: FOREIGN_LABEL };
  const body =
    op.objectKind === "Role"
      ? { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] }
      : op.objectKind === "RoleBinding"
        ? { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "chaos-foreign-viewer" }, subjects: [{ kind: "ServiceAccount", name: "chaos-foreign", namespace: op.namespace }] }
        : { apiVersion: "v1", kind: "ServiceAccount", metadata };
  const rt = op.objectKind === "Role" ? Roles : op.objectKind === "RoleBinding" ? RoleBindings : ServiceAccounts;
  const raw = await createRaw(ctx.api, rt, op.namespace, body);
  ctx.foreign.add({ objectKind: op.objectKind, namespace: op.namespace, name, raw, createdByOp: op.index });
  return done(`${op.objectKind} ${name}`);
}


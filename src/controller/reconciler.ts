// Makes the managed objects of one workload match what it should have. Level-based: it reads the
// caches, computes the desired state with a pure function, and writes only what differs.
import { isDeepStrictEqual } from "node:util";
import { desiredAccess, workloadRef, type AccessOptions, type DesiredAccess, type ManagedMetadata, type Workload } from "../access/desired.ts";
import { MANAGED_BY_LABEL, WORKLOAD_ANNOTATION } from "../access/marks.ts";
import { managedName } from "../access/names.ts";
import { isManagedFor } from "../access/ownership.ts";
import { isWorkloadKind, KINDS } from "../access/kinds.ts";
import type { KubeApi, KubeObject } from "../kube/api.ts";
import type { InformerGroup } from "../kube/informer.ts";
import { controllerOf, Metadata, parseObject, Role, RoleBinding, type ObjectMeta } from "../kube/objects.ts";
import { RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../kube/resources.ts";
import { isConflict, isNotFound } from "../kube/transport.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { Reasons, type EventRecorder, type InvolvedObject } from "./events.ts";
import { splitWorkloadKey, type World } from "../access/membership.ts";

/** A same-named object exists that podlogreader did not create; it is left alone and retried later. */
export class ForeignObjectError extends Error {
  override name = "ForeignObjectError";
}

export interface Caches {
  world: World;
  roles: InformerGroup<Role>;
  /** Only with --create-sa-and-rolebinding; without it they are neither read nor written. */
  roleBindings?: InformerGroup<RoleBinding>;
  serviceAccounts?: InformerGroup<Metadata>;
}

export class Reconciler {
  constructor(
    private readonly api: KubeApi,
    private readonly caches: Caches,
    private readonly options: AccessOptions,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
  ) {}

  private wrote(kind: string, operation: "create" | "update" | "delete"): void {
    this.metrics?.writes.inc({ kind, operation });
  }

  /** Makes the managed objects of the workload `Kind/namespace/name` match what it should have. */
  async reconcile(key: string): Promise<void> {
    const { kind, namespace, name } = splitWorkloadKey(key);
    if (!isWorkloadKind(kind)) throw new Error(`not a workload key: ${key}`);
    const found = this.caches.world.get(kind, namespace, name);
    const self = this.caches.world.managed(kind, namespace, name);
    if (!self) {
      const why = !found ? "is gone" : !self ? `is controlled by its ${found.controllerKind}` : "opted out";
      await this.removeAccess({ kind, namespace, name }, why);
      return;
    }
    const workload: Workload = { kind, namespace, name, uid: self.uid };
    const desired = desiredAccess(workload, this.caches.world.podNamesOf(self), this.options);
    await this.ensureRole(workload, desired.role);
    const { serviceAccounts, roleBindings } = this.caches;
    if (desired.serviceAccount && serviceAccounts) await this.ensureServiceAccount(serviceAccounts, workload, desired.serviceAccount);
    if (desired.roleBinding && roleBindings) await this.ensureRoleBinding(roleBindings, workload, desired.roleBinding);
  }

  private async ensureRole(workload: Workload, desired: DesiredAccess["role"]): Promise<void> {
    const { namespace, name } = desired.metadata;
    const live = this.caches.roles.get(namespace, name);
    const pods = podCount(desired.rules);
    if (!live) {
      const created = await this.create(Roles, workload, desired, (r) => parseObject(Role, r, "Role"));
      {
        this.caches.roles.remember(created);
        this.wrote("Role", "create");
        this.log.info(`Created Role ${namespace}/${name} for ${workloadRef(workload)}: ${pods} pod(s)`);
        await this.events.normal(involved(workload), Reasons.RoleSynced, `Role ${name} grants the logs of ${pods} pod(s)`);
      }
      return;
    }
    await this.refuseForeign(Roles, workload, live.metadata);
    if (metadataMatches(live.metadata, desired.metadata, workload) && isDeepStrictEqual(normalizeRules(live.rules), normalizeRules(desired.rules))) return;
    const before = new Set(podNames(live.rules));
    const after = podNames(desired.rules);
    const applied = parseObject(Role, await this.api.apply(Roles, namespace, withVersion(desired, live.metadata)), "Role");
    this.caches.roles.remember(applied);
    const added = after.filter((p) => !before.has(p)).length;
    const removed = before.size - (after.length - added);
    this.wrote("Role", "update");
    this.log.info(`Updated Role ${namespace}/${name} for ${workloadRef(workload)}: ${pods} pod(s) (+${added} -${removed})`);
    await this.events.normal(involved(workload), Reasons.RoleSynced, `Role ${name} grants the logs of ${pods} pod(s)`);
  }

  private async ensureRoleBinding(cache: InformerGroup<RoleBinding>, workload: Workload, desired: NonNullable<DesiredAccess["roleBinding"]>): Promise<void> {
    const { namespace, name } = desired.metadata;
    const live = cache.get(namespace, name);
    if (live) {
      await this.refuseForeign(RoleBindings, workload, live.metadata);
      const sameRef = isDeepStrictEqual(live.roleRef, desired.roleRef);
      if (sameRef && metadataMatches(live.metadata, desired.metadata, workload) && isDeepStrictEqual(normalizeSubjects(live.subjects), normalizeSubjects(desired.subjects))) return;
      if (sameRef) {
        const applied = parseObject(RoleBinding, await this.api.apply(RoleBindings, namespace, withVersion(desired, live.metadata)), "RoleBinding");
        cache.remember(applied);
        this.wrote("RoleBinding", "update");
        this.log.info(`Updated RoleBinding ${namespace}/${name} for ${workloadRef(workload)}`);
        return;
      }
      // roleRef cannot change in place.
      await this.delete(RoleBindings, cache, live.metadata, "its roleRef was wrong");
    }
    const created = await this.create(RoleBindings, workload, desired, (r) => parseObject(RoleBinding, r, "RoleBinding"));
    {
      cache.remember(created);
      this.wrote("RoleBinding", "create");
      this.log.info(`Created RoleBinding ${namespace}/${name} for ${workloadRef(workload)}`);
    }
  }

  private async ensureServiceAccount(cache: InformerGroup<Metadata>, workload: Workload, desired: NonNullable<DesiredAccess["serviceAccount"]>): Promise<void> {
    const { namespace, name } = desired.metadata;
    // Any ServiceAccount of this name is used as it is: never updated, only created when missing.
    // The cache holds every ServiceAccount, ours or not, so one that goes away is seen to be missing.
    if (cache.get(namespace, name)) return;
    try {
      const created = parseObject(Metadata, await this.api.create(ServiceAccounts, namespace, desired), "ServiceAccount");
      cache.remember(created);
      this.wrote("ServiceAccount", "create");
      this.log.info(`Created ServiceAccount ${namespace}/${name} for ${workloadRef(workload)}`);
    } catch (err) {
      if (!isConflict(err)) throw err;
      // The cache has not seen it yet; its watch event brings it, and a later deletion brings us back.
      this.log.info(`Using the existing ServiceAccount ${namespace}/${name} for ${workloadRef(workload)}; podlogreader did not create it and will not change it`);
    }
  }

  /**
   * Creates the object. A 409 means a same-named object exists that the label-selected cache does
   * not hold, so it does not carry our marks: it is refused like any foreign object. (Reading it
   * back would need `get` permission for no gain: the retry sees it in the cache if it is ours.)
   */
  private async create<T>(rt: ResourceType, workload: Workload, desired: KubeObject & { metadata: ManagedMetadata }, parse: (raw: unknown) => T): Promise<T> {
    try {
      return parse(await this.api.create(rt, desired.metadata.namespace, desired));
    } catch (err) {
      if (!isConflict(err)) throw err;
      const { namespace, name } = desired.metadata;
      await this.refuseForeign(rt, workload, { namespace, name, uid: "", resourceVersion: "" });
      throw err;
    }
  }

  private async refuseForeign(rt: ResourceType, workload: Workload, meta: ObjectMeta): Promise<void> {
    if (isManagedFor(meta, workload)) return;
    const message = `${rt.kind} ${meta.namespace}/${meta.name} already exists and was not created by podlogreader for ${workloadRef(workload)}; leaving it alone`;
    this.log.warn(message);
    await this.events.warn(
      involved(workload),
      Reasons.NameConflict,
      message,
    );
    throw new ForeignObjectError(message);
  }

  /** Deletes what podlogreader keeps for a workload that opted out or is gone. */
  private async removeAccess(workload: Omit<Workload, "uid">, why: string): Promise<void> {
    const reason = `${workload.kind} ${workload.namespace}/${workload.name} ${why}`;
    // The binding first, so access ends before the Role it points to goes.
    const { roleBindings, roles, serviceAccounts } = this.caches;
    if (roleBindings) await this.deleteIfManaged(RoleBindings, roleBindings, workload, reason);
    await this.deleteIfManaged(Roles, roles, workload, reason);
    if (serviceAccounts) await this.deleteIfManaged(ServiceAccounts, serviceAccounts, workload, reason);
  }

  private async deleteIfManaged<T extends { metadata: ObjectMeta }>(
    rt: ResourceType, cache: InformerGroup<T>, workload: Omit<Workload, "uid">, reason: string,
  ): Promise<void> {
    const live = cache.get(workload.namespace, managedName(workload.kind, workload.name));
    if (!live || !isManagedFor(live.metadata, workload)) return;
    await this.delete(rt, cache, live.metadata, reason);
  }

  private async delete<T>(rt: ResourceType, cache: InformerGroup<T>, meta: ObjectMeta, reason: string): Promise<void> {
    try {
      await this.api.delete(rt, meta.namespace, meta.name, { uid: meta.uid, resourceVersion: meta.resourceVersion });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    cache.forget(meta.namespace, meta.name);
    this.wrote(rt.kind, "delete");
    this.log.info(`Deleted ${rt.kind} ${meta.namespace}/${meta.name}: ${reason}`);
  }
}

export function involved(workload: Workload): InvolvedObject {
  return { apiVersion: KINDS[workload.kind].apiVersion, kind: workload.kind, namespace: workload.namespace, name: workload.name, uid: workload.uid };
}

function withVersion<T extends { metadata: ManagedMetadata }>(desired: T, live: ObjectMeta): T {
  return { ...desired, metadata: { ...desired.metadata, resourceVersion: live.resourceVersion } };
}

/** Our label, annotation and controller reference are in place; other people's additions are kept. */
function metadataMatches(live: ObjectMeta, desired: ManagedMetadata, workload: Workload): boolean {
  const owner = controllerOf(live);
  return (
    live.labels?.[MANAGED_BY_LABEL] === desired.labels[MANAGED_BY_LABEL] &&
    live.annotations?.[WORKLOAD_ANNOTATION] === desired.annotations[WORKLOAD_ANNOTATION] &&
    owner?.uid === workload.uid
  );
}

interface RuleLike {
  apiGroups?: string[] | null;
  resources?: string[] | null;
  verbs: string[];
  resourceNames?: string[] | null;
  nonResourceURLs?: string[] | null;
}

function normalizeRules(rules: RuleLike[] | null | undefined) {
  return (rules ?? []).map((r) => ({
    apiGroups: r.apiGroups ?? [],
    resources: r.resources ?? [],
    verbs: r.verbs,
    resourceNames: r.resourceNames ?? [],
    nonResourceURLs: r.nonResourceURLs ?? [],
  }));
}

function normalizeSubjects(subjects: { kind: string; name: string; namespace?: string | null; apiGroup?: string | null }[] | null | undefined) {
  return (subjects ?? []).map((s) => ({ kind: s.kind, name: s.name, namespace: s.namespace ?? "", apiGroup: s.apiGroup ?? "" }));
}

function podNames(rules: RuleLike[] | null | undefined): string[] {
  return (rules ?? []).find((r) => r.resources?.includes("pods/log"))?.resourceNames ?? [];
}

function podCount(rules: RuleLike[] | null | undefined): number {
  return podNames(rules).length;
}

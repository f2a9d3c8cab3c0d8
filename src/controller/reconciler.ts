// Makes the managed objects of one workload match what it should have. Level-based: it reads the
// caches, computes the desired state with a pure function, and writes only what differs.
//
// Fail closed: a RoleBinding of podlogreader's exists only while the Role it names is
// podlogreader's and in place; and when the apiserver refuses the Role's update, the names of pods
// that left are taken out first (a write that can only shrink the Role), and if even that is
// refused the binding and the Role are deleted. A grant never waits on a write that adds names.
import { isDeepStrictEqual } from "node:util";
import { desiredAccess, grantedPods, workloadRef, type AccessOptions, type DesiredAccess, type ManagedMetadata } from "../access/desired.ts";
import { isWorkloadKind, KINDS } from "../access/kinds.ts";
import { MANAGED_BY_LABEL, WORKLOAD_ANNOTATION } from "../access/marks.ts";
import type { Workload, World } from "../access/membership.ts";
import { managedName } from "../access/names.ts";
import { isManagedFor } from "../access/ownership.ts";
import type { KubeApi, KubeObject } from "../kube/api.ts";
import { controllerOf, PartialObjectMetadata, parseObject, Role, RoleBinding, type ObjectMeta, type PolicyRule } from "../kube/objects.ts";
import { RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../kube/resources.ts";
import { ApiError, isConflict, isNotFound } from "../kube/transport.ts";
import type { LogFields, Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { Reasons, type EventRecorder, type InvolvedObject } from "./events.ts";
import { splitWorkloadKey } from "../access/membership.ts";
import { about, LogReasons } from "./log-fields.ts";

/** A same-named object exists that podlogreader did not create; it is left alone and retried later. */
export class ForeignObjectError extends Error {
  override name = "ForeignObjectError";
}

/** The apiserver refused to write the workload's Role as it should be; retried with backoff. */
export class RoleWriteRefusedError extends Error {
  override name = "RoleWriteRefusedError";
}

/** What the reconciler reads objects from and writes them through: an informer's store. */
export interface ObjectCache<T> {
  get(namespace: string, name: string): T | undefined;
  /** Sends a write and keeps its result over older watch events (see Informer.write). */
  write(namespace: string, name: string, send: () => Promise<T>): Promise<T>;
  forget(namespace: string, name: string): void;
}

export interface Caches {
  world: World;
  roles: ObjectCache<Role>;
  /** Only with --create-sa-and-rolebinding; without it they are neither read nor written. */
  roleBindings?: ObjectCache<RoleBinding>;
  serviceAccounts?: ObjectCache<PartialObjectMetadata>;
}

/** The writes the reconciler makes. */
export type ObjectWriter = Pick<KubeApi, "create" | "apply" | "delete">;
/** Where the reconciler records Events. */
export type EventSink = Pick<EventRecorder, "normal" | "warn">;

export class Reconciler {
  constructor(
    private readonly api: ObjectWriter,
    private readonly caches: Caches,
    private readonly options: AccessOptions,
    private readonly events: EventSink,
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
    const workload = this.caches.world.managed(kind, namespace, name);
    if (!workload) {
      const found = this.caches.world.get(kind, namespace, name);
      const why = !found ? "is gone" : found.optedIn ? `is controlled by its ${found.controllerKind}` : "opted out";
      await this.removeAccess({ kind, namespace, name }, why);
      return;
    }
    const desired = desiredAccess(workload, this.caches.world.podNamesOf(workload), this.options, this.caches.world.jobNamesOf(workload));
    if (desired.podsLeftOut.length > 0) await this.reportLeftOut(workload, desired);
    else this.metrics?.podsLeftOut.remove({ namespace, workload: workloadRef(workload) });
    await this.ensureRole(workload, desired.role);
    const { serviceAccounts, roleBindings } = this.caches;
    if (desired.serviceAccount && serviceAccounts) await this.ensureServiceAccount(serviceAccounts, workload, desired.serviceAccount);
    if (desired.roleBinding && roleBindings) await this.ensureRoleBinding(roleBindings, workload, desired.roleBinding);
  }

  private async reportLeftOut(workload: Workload, desired: DesiredAccess): Promise<void> {
    const granted = grantedPods(desired.role.rules).length;
    const message = `${workloadRef(workload)} has ${granted + desired.podsLeftOut.length} pods, more than one Role can name; ` +
      `the logs of ${desired.podsLeftOut.length} of them are not granted`;
    this.log.warn(`${message} (in namespace ${workload.namespace})`, about(workload, LogReasons.TooManyPods));
    this.metrics?.podsLeftOut.set({ namespace: workload.namespace, workload: workloadRef(workload) }, desired.podsLeftOut.length);
    await this.events.warn(involved(workload), Reasons.TooManyPods, message);
  }

  private async ensureRole(workload: Workload, desired: DesiredAccess["role"]): Promise<void> {
    const { namespace, name } = desired.metadata;
    const roles = this.caches.roles;
    const live = roles.get(namespace, name);
    const pods = grantedPods(desired.rules).length;
    if (!live) {
      try {
        await roles.write(namespace, name, async () => parseObject(Role, await this.api.create(Roles, namespace, desired), "Role"));
      } catch (err) {
        // Not ours, or not written: either way nothing of ours may stay bound to this name.
        await this.unbind(workload, name, "its Role could not be created");
        // A 409 means a same-named Role exists that the label-selected cache does not hold: not ours.
        if (isConflict(err)) await this.refuseForeign(Roles, workload, { namespace, name, uid: "", resourceVersion: "" });
        throw err;
      }
      this.wrote("Role", "create");
      this.log.info(`Created Role ${namespace}/${name} for ${workloadRef(workload)}: ${pods} pod(s)`, about(workload, LogReasons.AccessGranted, { object: `Role/${name}` }));
      await this.events.normal(involved(workload), Reasons.AccessGranted, `Created Role ${name}, which grants the logs of ${pods} pod(s) of this ${workload.kind}`);
      return;
    }
    if (!isManagedFor(live.metadata, workload)) {
      await this.unbind(workload, name, "its Role is not podlogreader's");
      await this.refuseForeign(Roles, workload, live.metadata);
    }
    if (metadataMatches(live.metadata, desired.metadata, workload) && isDeepStrictEqual(normalizeRules(live.rules), normalizeRules(desired.rules))) return;

    const before = grantedPods(live.rules);
    const after = grantedPods(desired.rules);
    try {
      await this.updateRole(live, desired);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      await this.failClosed(workload, live, desired, err as ApiError);
    }
    const kept = new Set(after);
    const added = after.filter((p) => !before.includes(p)).length;
    const removed = before.filter((p) => !kept.has(p)).length;
    // Routine: a log line and the writes metric, no Event.
    this.log.info(`Updated Role ${namespace}/${name} for ${workloadRef(workload)}: ${pods} pod(s) (+${added} -${removed})`, about(workload, LogReasons.RoleUpdated, { object: `Role/${name}` }));
  }

  /** Server-side apply of the Role, on the condition that it is still the version read. */
  private async updateRole(live: Role, desired: { rules: PolicyRule[]; metadata: ManagedMetadata } & KubeObject): Promise<void> {
    const { namespace, name } = live.metadata;
    await this.caches.roles.write(namespace, name, async () => parseObject(Role, await this.api.apply(Roles, namespace, withVersion(desired, live.metadata)), "Role"));
    this.wrote("Role", "update");
  }

  /**
   * The Role's update was refused. Take the names of pods that left out first, in a write that
   * can only shrink the Role; if that is refused too, delete the binding and the Role. Then report
   * and throw, so the full state is tried again with backoff.
   */
  private async failClosed(workload: Workload, live: Role, desired: DesiredAccess["role"], refusal: ApiError): Promise<never> {
    const { namespace, name } = live.metadata;
    const wanted = new Set(grantedPods(desired.rules));
    const stale = grantedPods(live.rules).filter((p) => !wanted.has(p));
    let outcome: string;
    if (stale.length === 0) {
      outcome = "no pod left since, so nothing is granted that should not be";
    } else {
      const shrunk = { ...desired, rules: shrinkRules(desired.rules, live.rules) };
      try {
        await this.updateRole(live, shrunk);
        outcome = `the names of the ${stale.length} pod(s) that left were removed in a write that only shrinks the Role`;
      } catch (err) {
        if (!isRefusal(err)) throw err;
        await this.unbind(workload, name, "its Role could not be updated");
        await this.delete(Roles, this.caches.roles, live.metadata, `its update was refused and ${stale.length} pod(s) that left were still named`, about(workload, LogReasons.RoleWriteRefused));
        outcome = "even a write that only shrinks it was refused, so the Role was deleted";
      }
    }
    const message = `The apiserver refused to update Role ${name}: ${refusal.message.slice(0, 600)}; ${outcome}; retrying`;
    this.log.warn(`${message} (${workloadRef(workload)} in ${namespace})`, about(workload, LogReasons.RoleWriteRefused, { object: `Role/${name}` }));
    this.metrics?.roleWritesRefused.inc({ namespace });
    await this.events.warn(involved(workload), Reasons.RoleWriteRefused, message);
    throw new RoleWriteRefusedError(message);
  }

  /** Deletes podlogreader's RoleBinding of this name, so a Role that is not (or no longer) ours is never bound by it. */
  private async unbind(workload: Workload, name: string, why: string): Promise<void> {
    const cache = this.caches.roleBindings;
    const live = cache?.get(workload.namespace, name);
    if (!cache || !live || !isManagedFor(live.metadata, workload)) return;
    await this.delete(RoleBindings, cache, live.metadata, why, about(workload, LogReasons.Unbound));
  }

  private async ensureRoleBinding(cache: ObjectCache<RoleBinding>, workload: Workload, desired: NonNullable<DesiredAccess["roleBinding"]>): Promise<void> {
    const { namespace, name } = desired.metadata;
    const live = cache.get(namespace, name);
    if (live) {
      await this.refuseForeign(RoleBindings, workload, live.metadata);
      const sameRef = isDeepStrictEqual(live.roleRef, desired.roleRef);
      if (sameRef && metadataMatches(live.metadata, desired.metadata, workload) && isDeepStrictEqual(normalizeSubjects(live.subjects), normalizeSubjects(desired.subjects))) return;
      if (sameRef) {
        await cache.write(namespace, name, async () => parseObject(RoleBinding, await this.api.apply(RoleBindings, namespace, withVersion(desired, live.metadata)), "RoleBinding"));
        this.wrote("RoleBinding", "update");
        this.log.info(`Updated RoleBinding ${namespace}/${name} for ${workloadRef(workload)}`, about(workload, LogReasons.RoleBindingSynced, { object: `RoleBinding/${name}` }));
        return;
      }
      // roleRef cannot change in place.
      await this.delete(RoleBindings, cache, live.metadata, "its roleRef was wrong", about(workload, LogReasons.RoleBindingReplaced));
    }
    try {
      await cache.write(namespace, name, async () => parseObject(RoleBinding, await this.api.create(RoleBindings, namespace, desired), "RoleBinding"));
    } catch (err) {
      if (isConflict(err)) await this.refuseForeign(RoleBindings, workload, { namespace, name, uid: "", resourceVersion: "" });
      throw err;
    }
    this.wrote("RoleBinding", "create");
    this.log.info(`Created RoleBinding ${namespace}/${name} for ${workloadRef(workload)}`, about(workload, LogReasons.RoleBindingSynced, { object: `RoleBinding/${name}` }));
  }

  private async ensureServiceAccount(cache: ObjectCache<PartialObjectMetadata>, workload: Workload, desired: NonNullable<DesiredAccess["serviceAccount"]>): Promise<void> {
    const { namespace, name } = desired.metadata;
    // Any ServiceAccount of this name is used as it is: never updated, only created when missing.
    // The cache holds every ServiceAccount, ours or not, so one that goes away is seen to be missing.
    if (cache.get(namespace, name)) return;
    try {
      await cache.write(namespace, name, async () => parseObject(PartialObjectMetadata, await this.api.create(ServiceAccounts, namespace, desired), "ServiceAccount"));
      this.wrote("ServiceAccount", "create");
      this.log.info(`Created ServiceAccount ${namespace}/${name} for ${workloadRef(workload)}`, about(workload, LogReasons.ServiceAccountCreated, { object: `ServiceAccount/${name}` }));
    } catch (err) {
      if (!isConflict(err)) throw err;
      // The cache has not seen it yet; its watch event brings it, and a later deletion brings us back.
      this.log.info(`Using the existing ServiceAccount ${namespace}/${name} for ${workloadRef(workload)}; podlogreader did not create it and will not change it`, about(workload, LogReasons.ServiceAccountInUse, { object: `ServiceAccount/${name}` }));
    }
  }

  /** Throws ForeignObjectError, with a Warning Event, unless the object carries podlogreader's marks for this workload. */
  private async refuseForeign(rt: ResourceType, workload: Workload, meta: ObjectMeta): Promise<void> {
    if (isManagedFor(meta, workload)) return;
    const message = `${rt.kind} ${meta.namespace}/${meta.name} already exists and was not created by podlogreader for ${workloadRef(workload)}; leaving it alone`;
    this.log.warn(message, about(workload, LogReasons.NameConflict, { object: `${rt.kind}/${meta.name}` }));
    await this.events.warn(involved(workload), Reasons.NameConflict, message);
    throw new ForeignObjectError(message);
  }

  /** Deletes what podlogreader keeps for a workload that opted out or is gone. */
  private async removeAccess(workload: Pick<Workload, "kind" | "namespace" | "name">, why: string): Promise<void> {
    const reason = `${workload.kind} ${workload.namespace}/${workload.name} ${why}`;
    // The binding first, so access ends before the Role it points to goes.
    const { roleBindings, roles, serviceAccounts } = this.caches;
    if (roleBindings) await this.deleteIfManaged(RoleBindings, roleBindings, workload, reason);
    await this.deleteIfManaged(Roles, roles, workload, reason);
    if (serviceAccounts) await this.deleteIfManaged(ServiceAccounts, serviceAccounts, workload, reason);
    this.metrics?.podsLeftOut.remove({ namespace: workload.namespace, workload: workloadRef(workload) });
  }

  private async deleteIfManaged<T extends { metadata: ObjectMeta }>(
    rt: ResourceType, cache: ObjectCache<T>, workload: Pick<Workload, "kind" | "namespace" | "name">, reason: string,
  ): Promise<void> {
    const live = cache.get(workload.namespace, managedName(workload.kind, workload.name));
    if (!live || !isManagedFor(live.metadata, workload)) return;
    await this.delete(rt, cache, live.metadata, reason, about(workload, LogReasons.AccessRemoved));
  }

  private async delete<T>(rt: ResourceType, cache: ObjectCache<T>, meta: ObjectMeta, reason: string, fields: LogFields): Promise<void> {
    try {
      await this.api.delete(rt, meta.namespace, meta.name, { uid: meta.uid, resourceVersion: meta.resourceVersion });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    cache.forget(meta.namespace, meta.name);
    this.wrote(rt.kind, "delete");
    this.log.info(`Deleted ${rt.kind} ${meta.namespace}/${meta.name}: ${reason}`, { ...fields, object: `${rt.kind}/${meta.name}` });
  }
}

export function involved(workload: Pick<Workload, "kind" | "namespace" | "name" | "uid">): InvolvedObject {
  return { apiVersion: KINDS[workload.kind].apiVersion, kind: workload.kind, namespace: workload.namespace, name: workload.name, uid: workload.uid };
}

/**
 * The apiserver answered and said no: an admission policy or webhook, a quota, the request size,
 * a bad request. A 409 only means the cache was behind, and a 404 that the object went away: both
 * are tried again as they are.
 */
function isRefusal(err: unknown): boolean {
  return err instanceof ApiError && err.status !== 409 && err.status !== 404;
}

/**
 * The desired rules, each naming only what the live Role already names for the same resources: a
 * Role written with them grants nothing the live one does not, so a policy that refuses growth
 * lets it through. A rule left with no names is dropped: an empty resourceNames grants everything.
 */
export function shrinkRules(desired: PolicyRule[], live: PolicyRule[] | null | undefined): PolicyRule[] {
  const granted = new Map<string, Set<string>>();
  const scope = (r: PolicyRule) => JSON.stringify([r.apiGroups ?? [], [...(r.resources ?? [])].sort()]);
  for (const r of live ?? []) {
    const names = granted.get(scope(r)) ?? new Set<string>();
    for (const n of r.resourceNames ?? []) names.add(n);
    granted.set(scope(r), names);
  }
  return desired.flatMap((rule) => {
    if (!rule.resourceNames?.length) return [rule];
    const already = granted.get(scope(rule));
    const names = rule.resourceNames.filter((n) => already?.has(n));
    return names.length > 0 ? [{ ...rule, resourceNames: names }] : [];
  });
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

function normalizeRules(rules: PolicyRule[] | null | undefined) {
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

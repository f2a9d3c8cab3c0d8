// Makes the managed objects of one workload match what it should have. Level-based: it reads the
// caches, computes the desired state with a pure function, and writes only what differs.
//
// Fail closed: when a write fails, what the apiserver holds is read back and judged, never the
// status code (src/controller/fail-closed.ts): while the Role and RoleBinding grant more than they
// may, the Role is shrunk, the binding emptied, the Role deleted, the binding deleted, each tried
// even when an earlier one was refused. Objects made for an earlier workload of the same name are
// replaced, never reused; objects without podlogreader's marks are never written nor bound.
import { isDeepStrictEqual } from "node:util";
import type * as v from "valibot";
import {
  desiredAccess,
  grantedPods,
  workloadRef,
  type AccessOptions,
  type DesiredAccess,
  type ManagedMetadata,
} from "../access/desired.ts";
import { NOTHING, type Allowed } from "../access/excess.ts";
import { isWorkloadKind } from "../access/kinds.ts";
import { MANAGED_BY_LABEL, WORKLOAD_ANNOTATION } from "../access/marks.ts";
import { splitWorkloadKey, type Workload, type World } from "../access/membership.ts";
import { managedName } from "../access/names.ts";
import { isCurrentFor, isManagedFor } from "../access/ownership.ts";
import { controllerOf, PartialObjectMetadata, parseObject, Role, RoleBinding, type ObjectMeta, type PolicyRule } from "../kube/objects.ts";
import { RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { involved, Reasons, type EventRecorder, type InvolvedObject } from "./events.ts";
import {
  FailClosed,
  isTransient,
  isApiFailure,
  sameVersion,
  type GrantEnder,
  type ObjectCache,
  type ObjectWriter,
  type Refusal,
  type Secured,
  type Verb,
} from "./fail-closed.ts";
import { about, LogReasons } from "./log-fields.ts";
import { messageOf } from "../util/errors.ts";

export type { ObjectCache, ObjectWriter } from "./fail-closed.ts";

/** A same-named object exists that podlogreader did not create; it is left alone and retried later. */
export class ForeignObjectError extends Error {
  override name = "ForeignObjectError";
}

/** The apiserver refused a write of a managed object; retried with backoff. */
export class RoleWriteRefusedError extends Error {
  override name = "RoleWriteRefusedError";
}

/**
 * The cache was behind the apiserver (a 409 or 404 on a version since changed); it was brought up to date and the workload is tried again.
 */
export class StaleCacheError extends Error {
  override name = "StaleCacheError";
}

export interface Caches {
  world: World;
  roles: ObjectCache<Role>;
  /** Only with --create-sa-and-rolebinding; without it they are neither read nor written. */
  roleBindings?: ObjectCache<RoleBinding>;
  serviceAccounts?: ObjectCache<PartialObjectMetadata>;
}

/** Where the reconciler records Events. */
export type EventSink = Pick<EventRecorder, "normal" | "warn">;

type Ref = Pick<Workload, "kind" | "namespace" | "name"> & { uid?: string };

/** A write that failed: what it was, and how to read its object back. */
interface Attempt<S extends v.GenericSchema<unknown, { metadata: ObjectMeta }>> {
  verb: Verb;
  rt: ResourceType;
  cache: ObjectCache<v.InferOutput<S>>;
  schema: S;
  name: string;
  /** The cache's copy the write was based on; undefined for a create. */
  before?: v.InferOutput<S>;
  /** Which objects the cache keeps (label-selected caches: only labelled ones). */
  keep?: (o: v.InferOutput<S>) => boolean;
}

const everyObject = () => true;

/** The managed ServiceAccount a workload should have, and the cache it is read from. */
interface ServiceAccountTarget {
  cache: ObjectCache<PartialObjectMetadata>;
  desired: NonNullable<DesiredAccess["serviceAccount"]>;
}

/** A write of the managed ServiceAccount: its cache keeps every object, labelled or not. */
const serviceAccountAttempt = (cache: ObjectCache<PartialObjectMetadata>, name: string) =>
  ({ rt: ServiceAccounts, cache, schema: PartialObjectMetadata, name, keep: everyObject }) as const;

export class Reconciler {
  private readonly failClosed: FailClosed;

  constructor(
    private readonly api: ObjectWriter,
    private readonly caches: Caches,
    private readonly options: AccessOptions,
    private readonly events: EventSink,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    /** Ends the grants of a Role left granting too much; without it, grants are not looked at. */
    grants?: GrantEnder,
  ) {
    this.failClosed = new FailClosed(api, caches.roles, caches.roleBindings, log, (kind, operation) => this.wrote(kind, operation), grants);
  }

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
      await this.removeAccess({ kind, namespace, name, uid: found?.uid }, why);
      return;
    }
    const desired = desiredAccess(workload, this.caches.world.podNamesOf(workload), this.options, this.caches.world.jobNamesOf(workload));
    if (desired.podsLeftOut.length > 0) await this.reportLeftOut(workload, desired);
    else this.metrics?.podsLeftOut.remove({ namespace, workload: workloadRef(workload) });
    const allowed: Allowed = { rules: desired.role.rules, subjects: desired.roleBinding?.subjects ?? [] };
    const { serviceAccounts, roleBindings } = this.caches;
    const serviceAccount =
      desired.serviceAccount && serviceAccounts ? { cache: serviceAccounts, desired: desired.serviceAccount } : undefined;
    if (serviceAccount) await this.checkServiceAccount(workload, serviceAccount, allowed);
    await this.ensureRole(workload, desired.role, allowed);
    if (serviceAccount) await this.ensureServiceAccount(workload, serviceAccount, allowed);
    if (desired.roleBinding && roleBindings) await this.ensureRoleBinding(roleBindings, workload, desired.roleBinding, allowed);
  }

  private async reportLeftOut(workload: Workload, desired: DesiredAccess): Promise<void> {
    const granted = grantedPods(desired.role.rules).length;
    const message =
      `${workloadRef(workload)} has ${granted + desired.podsLeftOut.length} pods, more than one Role can name; ` +
      `the logs of ${desired.podsLeftOut.length} of them are not granted`;
    this.log.warn(`${message} (in namespace ${workload.namespace})`, about(workload, LogReasons.TooManyPods));
    this.metrics?.podsLeftOut.set({ namespace: workload.namespace, workload: workloadRef(workload) }, desired.podsLeftOut.length);
    await this.events.warn(involved(workload), Reasons.TooManyPods, message);
  }

  private async ensureRole(workload: Workload, desired: DesiredAccess["role"], allowed: Allowed): Promise<void> {
    const { namespace, name } = desired.metadata;
    const roles = this.caches.roles;
    const attempt = { rt: Roles, cache: roles, schema: Role, name };
    let live = roles.get(namespace, name);
    const pods = grantedPods(desired.rules).length;
    if (live && !isManagedFor(live.metadata, workload)) await this.foreign(workload, Roles, live.metadata, allowed);
    if (live && !isCurrentFor(live.metadata, workload)) {
      await this.replace(workload, { ...attempt, verb: "delete", before: live });
      live = undefined;
    }
    if (!live) {
      try {
        await roles.write(namespace, name, async () => parseObject(Role, await this.api.create(Roles, namespace, desired), "Role"));
      } catch (err) {
        await this.failed(workload, { ...attempt, verb: "create" }, allowed, err);
      }
      this.wrote("Role", "create");
      this.log.info(
        `Created Role ${namespace}/${name} for ${workloadRef(workload)}: ${pods} pod(s)`,
        about(workload, LogReasons.AccessGranted, { object: `Role/${name}` }),
      );
      await this.events.normal(
        involved(workload),
        Reasons.AccessGranted,
        `Created Role ${name}, which grants the logs of ${pods} pod(s) of this ${workload.kind}`,
      );
      return;
    }
    if (
      metadataMatches(live.metadata, desired.metadata, workload) &&
      isDeepStrictEqual(normalizeRules(live.rules), normalizeRules(desired.rules))
    )
      return;

    const before = grantedPods(live.rules);
    const after = grantedPods(desired.rules);
    try {
      await roles.write(namespace, name, async () =>
        parseObject(Role, await this.api.apply(Roles, namespace, withVersion(desired, live.metadata)), "Role"),
      );
    } catch (err) {
      await this.failed(workload, { ...attempt, verb: "update", before: live }, allowed, err);
    }
    this.wrote("Role", "update");
    const kept = new Set(after);
    const added = after.filter((p) => !before.includes(p)).length;
    const removed = before.filter((p) => !kept.has(p)).length;
    // Routine: a log line and the writes metric, no Event.
    this.log.info(
      `Updated Role ${namespace}/${name} for ${workloadRef(workload)}: ${pods} pod(s) (+${added} -${removed})`,
      about(workload, LogReasons.RoleUpdated, { object: `Role/${name}` }),
    );
  }

  /**
   * A ServiceAccount of the managed name that is not this workload's own (made for an earlier
   * workload of the same name, orphaned, or not podlogreader's) is never bound: the binding is
   * emptied first. One of podlogreader's is replaced, so that its tokens end with it.
   */
  private async checkServiceAccount(workload: Workload, { cache, desired }: ServiceAccountTarget, allowed: Allowed): Promise<void> {
    const { namespace, name } = desired.metadata;
    const live = cache.get(namespace, name);
    if (!live || isCurrentFor(live.metadata, workload)) return;
    const unbound = { ...allowed, subjects: [] };
    if (!isManagedFor(live.metadata, workload)) await this.foreign(workload, ServiceAccounts, live.metadata, unbound);
    await this.replace(workload, { ...serviceAccountAttempt(cache, name), verb: "delete", before: live }, unbound);
  }

  private async ensureServiceAccount(workload: Workload, { cache, desired }: ServiceAccountTarget, allowed: Allowed): Promise<void> {
    const { namespace, name } = desired.metadata;
    if (cache.get(namespace, name)) return;
    try {
      await cache.write(namespace, name, async () =>
        parseObject(PartialObjectMetadata, await this.api.create(ServiceAccounts, namespace, desired), "ServiceAccount"),
      );
    } catch (err) {
      await this.failed(workload, { ...serviceAccountAttempt(cache, name), verb: "create" }, allowed, err);
    }
    this.wrote("ServiceAccount", "create");
    this.log.info(
      `Created ServiceAccount ${namespace}/${name} for ${workloadRef(workload)}`,
      about(workload, LogReasons.ServiceAccountCreated, { object: `ServiceAccount/${name}` }),
    );
  }

  private async ensureRoleBinding(
    cache: ObjectCache<RoleBinding>,
    workload: Workload,
    desired: NonNullable<DesiredAccess["roleBinding"]>,
    allowed: Allowed,
  ): Promise<void> {
    const { namespace, name } = desired.metadata;
    const attempt = { rt: RoleBindings, cache, schema: RoleBinding, name };
    const live = cache.get(namespace, name);
    if (live) {
      // Someone else's binding of this name is theirs to change; podlogreader only reports it.
      if (!isManagedFor(live.metadata, workload)) await this.nameConflict(RoleBindings, workload, live.metadata);
      if (isCurrentFor(live.metadata, workload) && isDeepStrictEqual(live.roleRef, desired.roleRef)) {
        if (
          metadataMatches(live.metadata, desired.metadata, workload) &&
          isDeepStrictEqual(normalizeSubjects(live.subjects), normalizeSubjects(desired.subjects))
        )
          return;
        try {
          await cache.write(namespace, name, async () =>
            parseObject(RoleBinding, await this.api.apply(RoleBindings, namespace, withVersion(desired, live.metadata)), "RoleBinding"),
          );
        } catch (err) {
          await this.failed(workload, { ...attempt, verb: "update", before: live }, allowed, err);
        }
        this.wrote("RoleBinding", "update");
        this.log.info(
          `Updated RoleBinding ${namespace}/${name} for ${workloadRef(workload)}`,
          about(workload, LogReasons.RoleBindingSynced, { object: `RoleBinding/${name}` }),
        );
        return;
      }
      // Made for an earlier workload of this name, or binding another Role (roleRef cannot change in place).
      await this.replace(workload, { ...attempt, verb: "delete", before: live });
    }
    try {
      await cache.write(namespace, name, async () =>
        parseObject(RoleBinding, await this.api.create(RoleBindings, namespace, desired), "RoleBinding"),
      );
    } catch (err) {
      await this.failed(workload, { ...attempt, verb: "create" }, allowed, err);
    }
    this.wrote("RoleBinding", "create");
    this.log.info(
      `Created RoleBinding ${namespace}/${name} for ${workloadRef(workload)}`,
      about(workload, LogReasons.RoleBindingSynced, { object: `RoleBinding/${name}` }),
    );
  }

  /**
   * Deletes a managed object that is not this workload's own to use (exactly the version read);
   * when that fails, nothing may be granted through the name until it is gone.
   */
  private async replace<S extends v.GenericSchema<unknown, { metadata: ObjectMeta }>>(
    workload: Workload,
    attempt: Attempt<S> & { before: v.InferOutput<S> },
    allowed: Allowed = NOTHING,
  ): Promise<void> {
    const meta = attempt.before.metadata;
    try {
      await this.failClosed.deleteExactly(attempt.rt, attempt.cache, meta);
    } catch (err) {
      await this.failed(workload, attempt, allowed, err);
    }
    const made = controllerOf(meta)?.uid
      ? `made for an earlier ${workload.kind} of this name (uid ${controllerOf(meta)!.uid})`
      : "orphaned";
    const what = attempt.rt === RoleBindings && controllerOf(meta)?.uid === workload.uid ? "it bound another Role" : `it was ${made}`;
    this.log.info(
      `Deleted ${attempt.rt.kind} ${meta.namespace}/${meta.name} to make it anew for ${workloadRef(workload)}: ${what}`,
      about(workload, LogReasons.Replaced, { object: `${attempt.rt.kind}/${meta.name}` }),
    );
  }

  /**
   * A write failed. Reads its object back and, while the Role and binding grant more than
   * `allowed`, takes the ways out (FailClosed.secure). Then throws what the queue should hear:
   * - ForeignObjectError when an object of the name without podlogreader's marks is in the way;
   * - the error itself when there was no answer, 429 or 5xx, and StaleCacheError when the object
   *   had changed since the cache's copy (a 409 or 404 of a cache that was behind), unless a way
   *   out was refused;
   * - RoleWriteRefusedError otherwise: the write did not happen for another reason, whatever its
   *   status code. Every refused write gets a log line and the metric, and the whole a Warning Event.
   * Returns only when a delete turns out to have happened (a 404 of an object that is gone).
   */
  private async failed<S extends v.GenericSchema<unknown, { metadata: ObjectMeta }>>(
    workload: Ref,
    attempt: Attempt<S>,
    allowed: Allowed,
    err: unknown,
  ): Promise<void> {
    if (!isApiFailure(err)) throw err;
    const { namespace } = workload;
    const seen = await this.failClosed.readBack(attempt.rt, attempt.cache, attempt.schema, namespace, attempt.name, attempt.keep);
    if (attempt.verb === "delete" && seen.known && seen.obj?.metadata.uid !== attempt.before?.metadata.uid) return;
    if (seen.obj && !isManagedFor(seen.obj.metadata, workload)) {
      await this.foreign(workload, attempt.rt, seen.obj.metadata, attempt.rt === RoleBindings ? undefined : allowed);
    }
    // Until the workload's own ServiceAccount is there, nothing binds the name.
    const usable =
      attempt.rt !== ServiceAccounts || (!!seen.obj && workload.uid !== undefined && isCurrentFor(seen.obj.metadata, workload as Workload));
    const secured = await this.failClosed.secure(
      workload,
      managedName(workload.kind, workload.name),
      usable ? allowed : { ...allowed, subjects: [] },
      about(workload, LogReasons.Unbound),
    );
    const changed = seen.known && !sameVersion(attempt.before, seen.obj);
    const refusals = secured.refusals;
    if (!isTransient(err) && !changed)
      refusals.unshift({ verb: attempt.verb, rt: attempt.rt, name: attempt.name, uid: seen.obj?.metadata.uid, error: err });
    if (refusals.length > 0 || !secured.secured) throw new RoleWriteRefusedError(await this.report(workload, refusals, secured));
    if (isTransient(err)) throw err;
    throw new StaleCacheError(
      `${attempt.rt.kind} ${namespace}/${attempt.name} had changed since it was read (${messageOf(err)}); the cache was brought up to date`,
      { cause: err },
    );
  }

  /** Records refused writes: a log line and the metric for each, one Warning Event for them all. Returns the Event's message. */
  private async report(workload: Ref, refusals: Refusal[], secured: Secured): Promise<string> {
    const { namespace } = workload;
    for (const r of refusals) {
      this.metrics?.roleWritesRefused.inc({ namespace, verb: r.verb, resource: r.rt.plural });
      this.log.warn(
        `The apiserver refused to ${r.verb} ${r.rt.kind} ${namespace}/${r.name} for ${workloadRef(workload)}: ` +
          `${messageOf(r.error).slice(0, 600)}`,
        about(workload, LogReasons.RoleWriteRefused, { object: `${r.rt.kind}/${r.name}`, verb: r.verb }),
      );
    }
    const did = secured.done.length > 0 ? `podlogreader ${secured.done.join(", then ")}` : undefined;
    const outcome = !secured.secured
      ? `${secured.why}, and ${refusals.length > 0 ? "every way out was refused" : "none of it is podlogreader's to change"}` +
        (did ? `; ${did}` : "")
      : did
        ? `so ${did}`
        : "nothing grants more than it should";
    const first = refusals[0];
    const refused = first
      ? `The apiserver refused to ${first.verb} ${first.rt.kind} ` +
        `${first.name}${refusals.length > 1 ? ` (and ${refusals.length - 1} more write(s))` : ""}: ` +
        `${messageOf(first.error).slice(0, 600)}`
      : "A write failed";
    const message = `${refused}; ${outcome}; retrying`;
    if (!secured.secured)
      this.log.warn(`${message} (${workloadRef(workload)} in ${namespace})`, about(workload, LogReasons.RoleWriteRefused));
    // A workload that is gone holds no Events; the object podlogreader could not write does.
    const on =
      workload.uid !== undefined
        ? involved(workload as Workload)
        : refusals.filter((r) => r.uid).map((r) => involvedObject(r.rt, workload.namespace, r.name, r.uid!))[0];
    if (on) await this.events.warn(on, Reasons.RoleWriteRefused, message);
    return message;
  }

  /**
   * An object of the managed name does not carry podlogreader's marks for this workload: unless it
   * is the binding itself, nothing of podlogreader's may grant through it (the binding is emptied
   * or deleted as `allowed` says). Then reports the conflict and throws ForeignObjectError.
   */
  private async foreign(workload: Ref, rt: ResourceType, meta: ObjectMeta, allowed: Allowed | undefined): Promise<never> {
    if (allowed) {
      const secured = await this.failClosed.secure(
        workload,
        managedName(workload.kind, workload.name),
        allowed,
        about(workload, LogReasons.Unbound),
      );
      if (secured.refusals.length > 0 || !secured.secured) await this.report(workload, secured.refusals, secured);
    }
    return this.nameConflict(rt, workload, meta);
  }

  /**
   * Reports an object of the managed name without podlogreader's marks for this workload (Warning Event, log line) and throws
   * ForeignObjectError.
   */
  private async nameConflict(rt: ResourceType, workload: Ref, meta: ObjectMeta): Promise<never> {
    const message =
      `${rt.kind} ${meta.namespace}/${meta.name} already exists and was not created by podlogreader for ${workloadRef(workload)}; ` +
      `leaving it alone`;
    this.log.warn(message, about(workload, LogReasons.NameConflict, { object: `${rt.kind}/${meta.name}` }));
    if (workload.uid !== undefined) await this.events.warn(involved(workload as Workload), Reasons.NameConflict, message);
    throw new ForeignObjectError(message);
  }

  /**
   * Deletes what podlogreader keeps for a workload that opted out or is gone, binding first. When
   * a delete fails, the rest are still tried, and then whatever still grants is taken away as far
   * as the apiserver lets it (the binding emptied, the Role shrunk to nothing...).
   */
  private async removeAccess(workload: Ref, why: string): Promise<void> {
    const reason = `${workload.kind} ${workload.namespace}/${workload.name} ${why}`;
    const name = managedName(workload.kind, workload.name);
    const { roleBindings, roles, serviceAccounts } = this.caches;
    let failure: unknown;
    const remove = async <S extends v.GenericSchema<unknown, { metadata: ObjectMeta }>>(
      attempt: Omit<Attempt<S>, "verb" | "before" | "cache"> & { cache?: ObjectCache<v.InferOutput<S>> },
    ) => {
      const { cache, rt } = attempt;
      const live = cache?.get(workload.namespace, name);
      if (!cache || !live || !isManagedFor(live.metadata, workload)) return;
      try {
        await this.failClosed.deleteExactly(rt, cache, live.metadata);
        this.log.info(
          `Deleted ${rt.kind} ${workload.namespace}/${name}: ${reason}`,
          about(workload, LogReasons.AccessRemoved, { object: `${rt.kind}/${name}` }),
        );
      } catch (err) {
        if (!isApiFailure(err)) throw err;
        try {
          await this.failed(workload, { ...attempt, cache, verb: "delete", before: live }, NOTHING, err);
        } catch (thrown) {
          failure ??= thrown;
        }
      }
    };
    await remove({ rt: RoleBindings, cache: roleBindings, schema: RoleBinding, name });
    await remove({ rt: Roles, cache: roles, schema: Role, name });
    await remove({ rt: ServiceAccounts, cache: serviceAccounts, schema: PartialObjectMetadata, name, keep: everyObject });
    this.metrics?.podsLeftOut.remove({ namespace: workload.namespace, workload: workloadRef(workload) });
    if (failure) throw failure;
  }
}

function involvedObject(rt: ResourceType, namespace: string, name: string, uid: string): InvolvedObject {
  return { apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version, kind: rt.kind, namespace, name, uid };
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

function normalizeSubjects(
  subjects: { kind: string; name: string; namespace?: string | null; apiGroup?: string | null }[] | null | undefined,
) {
  return (subjects ?? []).map((s) => ({ kind: s.kind, name: s.name, namespace: s.namespace ?? "", apiGroup: s.apiGroup ?? "" }));
}

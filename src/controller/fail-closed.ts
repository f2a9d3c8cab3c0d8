// After a write fails: read the workload's Role and RoleBinding back from the apiserver, and while
// they grant more than they may, take the ways out that remain (src/access/excess.ts decides
// which), each tried even when an earlier one was refused, reading back after each that worked.
import { isIdleBinding, judge, roleOverGrants, type Allowed, type LiveAccess, type Step } from "../access/excess.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, WORKLOAD_ANNOTATION } from "../access/marks.ts";
import type { Workload } from "../access/membership.ts";
import type { KubeApi } from "../kube/api.ts";
import { controllerOf, parseObject, Role, RoleBinding, type ObjectMeta } from "../kube/objects.ts";
import { RoleBindings, Roles, type ResourceType } from "../kube/resources.ts";
import { ApiError, isNotFound, NetworkError } from "../kube/transport.ts";
import type { LogFields, Logger } from "../log.ts";
import type * as v from "valibot";
import { messageOf } from "../util/errors.ts";

/** The calls the reconciler makes: writes, and reads of single objects to judge a failed write by. */
export type ObjectWriter = Pick<KubeApi, "create" | "apply" | "delete" | "get">;

/** What the reconciler reads objects from and writes them through: an informer's store. */
export interface ObjectCache<T> {
  get(namespace: string, name: string): T | undefined;
  /** Sends a write and keeps its result over older watch events (see Informer.write). */
  write(namespace: string, name: string, send: () => Promise<T>): Promise<T>;
  forget(namespace: string, name: string): void;
}

export type Verb = "create" | "update" | "delete";

/** A write the apiserver did not carry out. */
export interface Refusal {
  verb: Verb;
  rt: ResourceType;
  name: string;
  /** The object's UID, when it exists: an Event can be recorded on it once its workload is gone. */
  uid?: string;
  error: unknown;
}

/** No answer, throttling, or a server error: worth trying again as it is. */
export function isTransient(err: unknown): boolean {
  return err instanceof NetworkError || (err instanceof ApiError && (err.status === 429 || err.status >= 500));
}

/** An answer or no answer from the apiserver (not a bug, nor the leader's fence): a failed call to judge by reading back. */
export function isApiFailure(err: unknown): boolean {
  return err instanceof ApiError || err instanceof NetworkError;
}

/** The same object (uid and resourceVersion), or both absent. */
export function sameVersion(a: { metadata: ObjectMeta } | undefined, b: { metadata: ObjectMeta } | undefined): boolean {
  return a?.metadata.uid === b?.metadata.uid && a?.metadata.resourceVersion === b?.metadata.resourceVersion;
}

/** podlogreader's marks as the live object carries them, so that a write keeps them (server-side apply drops what it leaves out). */
function marksOf(meta: ObjectMeta) {
  const annotation = meta.annotations?.[WORKLOAD_ANNOTATION];
  const owner = controllerOf(meta);
  const annotations: Record<string, string> = annotation ? { [WORKLOAD_ANNOTATION]: annotation } : {};
  return {
    name: meta.name,
    namespace: meta.namespace,
    resourceVersion: meta.resourceVersion,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
    annotations,
    ownerReferences: owner ? [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true }] : [],
  };
}

const isLabelled = (o: { metadata: ObjectMeta }) => o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;

export interface Secured {
  /** Nothing grants more than it may any more. */
  secured: boolean;
  why?: string;
  /** What was done, for people. */
  done: string[];
  refusals: Refusal[];
}

/** Ends the grants (podlogreader grant) of a Role: deleted, or emptied where deleting is refused. */
export interface GrantEnder {
  endGrantsOf(namespace: string, roleName: string): Promise<{ ended: boolean; done: string[]; refusals: Refusal[] }>;
}

export class FailClosed {
  constructor(
    private readonly api: ObjectWriter,
    private readonly roles: ObjectCache<Role>,
    private readonly roleBindings: ObjectCache<RoleBinding> | undefined,
    private readonly log: Logger,
    private readonly wrote: (kind: string, operation: "create" | "update" | "delete") => void,
    private readonly grants?: GrantEnder,
  ) {}

  /**
   * Reads one object back and brings the cache up to it. `known` is false when the read failed:
   * `obj` is then the cache's copy, what podlogreader last knew.
   */
  async readBack<S extends v.GenericSchema<unknown, { metadata: ObjectMeta }>>(
    rt: ResourceType,
    cache: ObjectCache<v.InferOutput<S>>,
    schema: S,
    namespace: string,
    name: string,
    keep: (o: v.InferOutput<S>) => boolean = isLabelled,
  ): Promise<{ obj: v.InferOutput<S> | undefined; known: boolean }> {
    let raw: unknown;
    try {
      raw = await this.api.get(rt, namespace, name);
    } catch (err) {
      if (isNotFound(err)) {
        cache.forget(namespace, name);
        return { obj: undefined, known: true };
      }
      if (!isApiFailure(err)) throw err;
      this.log.debug(`Could not read ${rt.kind} ${namespace}/${name} back: ${messageOf(err)}; judging by the cache`);
      return { obj: cache.get(namespace, name), known: false };
    }
    const obj = parseObject(schema, raw, rt.kind);
    // A label-selected cache never holds what its watch would not deliver.
    if (!keep(obj)) cache.forget(namespace, name);
    else if (!sameVersion(cache.get(namespace, name), obj)) await cache.write(namespace, name, async () => obj);
    return { obj, known: true };
  }

  async read(namespace: string, name: string): Promise<LiveAccess> {
    const role = (await this.readBack(Roles, this.roles, Role, namespace, name)).obj;
    const binding = this.roleBindings
      ? (await this.readBack(RoleBindings, this.roleBindings, RoleBinding, namespace, name)).obj
      : undefined;
    return { role, binding };
  }

  /**
   * Reads the Role and RoleBinding of `name` back and, while they grant more than `allowed`,
   * takes the next way out: shrink the Role, empty the binding, delete the Role, delete the
   * binding (see judge for the order). A way out that is refused is not tried again in this call.
   * Then a binding left with no use (isIdleBinding) is deleted where it can be. When the Role
   * itself is left granting too much, every grant of it is ended (GrantEnder).
   */
  async secure(
    workload: Pick<Workload, "kind" | "namespace" | "name">,
    name: string,
    allowed: Allowed,
    fields: LogFields,
  ): Promise<Secured> {
    const { namespace } = workload;
    const done: string[] = [];
    const refusals: Refusal[] = [];
    const tried = new Set<Step>();
    let live = await this.read(namespace, name);
    for (;;) {
      const verdict = judge(live, allowed, workload, name);
      if (!verdict.overGrants) {
        if (isIdleBinding(live, workload) && !tried.has("deleteBinding")) {
          try {
            await this.deleteStep(RoleBindings, this.roleBindings!, live.binding!.metadata);
            done.push(`deleted RoleBinding ${name}, which bound nobody`);
          } catch (err) {
            if (!isApiFailure(err)) throw err;
            refusals.push(this.refusalOf("deleteBinding", live, err));
          }
        }
        return { secured: true, done, refusals };
      }
      const next = verdict.steps.filter((s) => !tried.has(s));
      let moved = false;
      for (const step of next) {
        tried.add(step);
        try {
          done.push(await this.take(step, live, verdict.shrunk, verdict.why, fields));
          moved = true;
          break;
        } catch (err) {
          if (!isApiFailure(err)) throw err;
          refusals.push(this.refusalOf(step, live, err));
        }
      }
      if (!moved) {
        // The Role stays as it is: whoever is granted it through a grant reads too much too.
        if (this.grants && roleOverGrants(live, allowed, workload)) {
          const grants = await this.grants.endGrantsOf(namespace, name);
          done.push(...grants.done);
          refusals.push(...grants.refusals);
        }
        return { secured: false, why: verdict.why, done, refusals };
      }
      live = await this.read(namespace, name);
    }
  }

  private refusalOf(step: Step, live: LiveAccess, error: unknown): Refusal {
    const onRole = step === "shrinkRole" || step === "deleteRole";
    const { name, uid } = (onRole ? live.role : live.binding)!.metadata;
    const verb: Verb = step.startsWith("delete") ? "delete" : "update";
    return { verb, rt: onRole ? Roles : RoleBindings, name, uid, error };
  }

  private async take(step: Step, live: LiveAccess, shrunk: Role["rules"], why: string, fields: LogFields): Promise<string> {
    // judge offers a step only on an object that is there.
    const role = live.role!;
    const binding = live.binding!;
    let said: string;
    switch (step) {
      case "shrinkRole": {
        const body = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: marksOf(role.metadata), rules: shrunk ?? [] };
        await this.roles.write(role.metadata.namespace, role.metadata.name, async () =>
          parseObject(Role, await this.api.apply(Roles, role.metadata.namespace, body), "Role"),
        );
        this.wrote("Role", "update");
        said = `shrank Role ${role.metadata.name} to what it may grant`;
        break;
      }
      case "emptyBinding": {
        const body = {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: marksOf(binding.metadata),
          roleRef: binding.roleRef,
          subjects: [],
        };
        await this.roleBindings!.write(binding.metadata.namespace, binding.metadata.name, async () =>
          parseObject(RoleBinding, await this.api.apply(RoleBindings, binding.metadata.namespace, body), "RoleBinding"),
        );
        this.wrote("RoleBinding", "update");
        said = `emptied the subjects of RoleBinding ${binding.metadata.name}`;
        break;
      }
      case "deleteRole":
        await this.deleteStep(Roles, this.roles, role.metadata);
        said = `deleted Role ${role.metadata.name}`;
        break;
      case "deleteBinding":
        await this.deleteStep(RoleBindings, this.roleBindings!, binding.metadata);
        said = `deleted RoleBinding ${binding.metadata.name}`;
        break;
    }
    this.log.info(`${said[0]!.toUpperCase()}${said.slice(1)} in namespace ${String(fields.namespace)}: ${why}`, fields);
    return said;
  }

  /**
   * Deletes exactly the version read (uid and resourceVersion preconditions). A 404 is thrown like
   * any failure: gone already, or a refusal sent with that code, which only a read tells apart.
   */
  async deleteExactly<T>(rt: ResourceType, cache: ObjectCache<T>, meta: ObjectMeta): Promise<void> {
    await this.api.delete(rt, meta.namespace, meta.name, { uid: meta.uid, resourceVersion: meta.resourceVersion });
    cache.forget(meta.namespace, meta.name);
    this.wrote(rt.kind, "delete");
  }

  /** A delete step: 404 included, what is left is judged by reading back. */
  private async deleteStep<T>(rt: ResourceType, cache: ObjectCache<T>, meta: ObjectMeta): Promise<void> {
    try {
      await this.deleteExactly(rt, cache, meta);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

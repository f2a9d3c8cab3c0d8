// Ends one grant, whatever the apiserver refuses: delete it (exactly the version read) and, when the
// delete does not happen, empty its subjects. Judged by reading the grant back, never by a status
// code. Used at a grant's expiry and when its Role grants more than it should and cannot be fixed.
import { EXPIRES_ANNOTATION, GRANT_SELECTOR, grantsBindingRole, grantWorkload, isGrant } from "../access/grants.ts";
import type { Workload, World } from "../access/membership.ts";
import { parseWorkloadRef } from "../access/workload-ref.ts";
import type { KubeApi } from "../kube/api.ts";
import { parseObject, RoleBinding } from "../kube/objects.ts";
import { RoleBindings } from "../kube/resources.ts";
import { isConflict } from "../kube/transport.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { messageOf } from "../util/errors.ts";
import { involved, Reasons, type EventRecorder } from "./events.ts";
import { isApiFailure, type Refusal } from "./fail-closed.ts";

/**
 * Why a grant ends: its expiry; its Role is gone or no longer the one it was made for; its Role
 * grants more than it should and the apiserver refuses to change that.
 */
export type EndReason = "expired" | "role-gone" | "role-over-grants";

export interface GrantEnd {
  /** The grant binds nobody any more: deleted, emptied, or gone already. */
  ended: boolean;
  /** What was done, for people. */
  done: string[];
  /** Writes the apiserver did not carry out. */
  refusals: Refusal[];
  /** The grant had changed since it was read (a renewal, say): judge it again from the cache. */
  changed?: boolean;
}

export interface GrantEndingDeps {
  api: Pick<KubeApi, "delete" | "mergePatch" | "list">;
  world: World;
  events: Pick<EventRecorder, "normal">;
  log: Logger;
  metrics?: Metrics;
}

const bindsSomeone = (b: RoleBinding) => (b.subjects ?? []).length > 0;

export class GrantEnding {
  constructor(private readonly deps: GrantEndingDeps) {}

  /**
   * Ends every grant in `namespace` that binds the Role `roleName`, read from the apiserver (not a
   * cache that may be behind): the Role grants more than it may and could not be fixed.
   */
  async endGrantsOf(namespace: string, roleName: string): Promise<GrantEnd> {
    const out: GrantEnd = { ended: true, done: [], refusals: [] };
    let live: RoleBinding[];
    try {
      live = await this.readGrants(namespace);
    } catch (err) {
      if (!isApiFailure(err)) throw err;
      this.deps.log.warn(`Could not list the grants of Role ${namespace}/${roleName}: ${messageOf(err)}`, {
        namespace,
        reason: "GrantEndFailed",
        object: `Role/${roleName}`,
      });
      return { ended: false, done: [], refusals: [] };
    }
    for (const grant of grantsBindingRole(live, namespace, roleName).filter(bindsSomeone)) {
      const end = await this.end(grant, "role-over-grants");
      out.ended &&= end.ended;
      out.done.push(...end.done);
      out.refusals.push(...end.refusals);
    }
    return out;
  }

  /**
   * Ends one grant: deletes exactly the version read; when that does not happen, reads it back and,
   * while it is the same grant and still binds someone, empties its subjects and reads it back
   * again. A grant changed since it was read is left to be judged again.
   */
  async end(grant: RoleBinding, why: EndReason): Promise<GrantEnd> {
    const { namespace, name, uid, resourceVersion } = grant.metadata;
    const refusals: Refusal[] = [];
    try {
      await this.deps.api.delete(RoleBindings, namespace, name, { uid, resourceVersion });
      if (bindsSomeone(grant)) await this.ended(grant, why, "deleted");
      return { ended: true, done: [`deleted grant RoleBinding ${name}`], refusals };
    } catch (err) {
      if (!isApiFailure(err)) throw err;
      const live = await this.readBack(namespace, name);
      if (live === "unknown") return { ended: false, done: [], refusals: [{ verb: "delete", rt: RoleBindings, name, uid, error: err }] };
      // Gone (revoked, say), or replaced by a new grant that is judged on its own.
      if (!live || live.metadata.uid !== uid) return { ended: true, done: [], refusals };
      if (live.metadata.resourceVersion !== resourceVersion && isConflict(err)) return { ended: false, done: [], refusals, changed: true };
      refusals.push({ verb: "delete", rt: RoleBindings, name, uid, error: err });
      if (!bindsSomeone(live)) return { ended: true, done: [], refusals };
      return this.empty(live, why, refusals);
    }
  }

  private async empty(live: RoleBinding, why: EndReason, refusals: Refusal[]): Promise<GrantEnd> {
    const { namespace, name, uid, resourceVersion } = live.metadata;
    try {
      // A merge patch touches only the subjects: the grant keeps its label and record, as the
      // chart's admission policy requires; resourceVersion makes it a precondition.
      await this.deps.api.mergePatch(RoleBindings, namespace, name, { metadata: { resourceVersion }, subjects: [] });
    } catch (err) {
      if (!isApiFailure(err)) throw err;
      refusals.push({ verb: "update", rt: RoleBindings, name, uid, error: err });
    }
    const after = await this.readBack(namespace, name);
    if (after === "unknown") return { ended: false, done: [], refusals };
    if (after && after.metadata.uid === uid && bindsSomeone(after)) return { ended: false, done: [], refusals };
    await this.ended(live, why, after ? "emptied" : "deleted");
    return {
      ended: true,
      done: [after ? `emptied the subjects of grant RoleBinding ${name}` : `grant RoleBinding ${name} is gone`],
      refusals,
    };
  }

  /** The grant as the apiserver holds it now; undefined when gone, "unknown" when the read failed. */
  private async readBack(namespace: string, name: string): Promise<RoleBinding | undefined | "unknown"> {
    try {
      return (await this.readGrants(namespace, name))[0];
    } catch (err) {
      if (!isApiFailure(err)) throw err;
      this.deps.log.debug(`Could not read grant RoleBinding ${namespace}/${name} back: ${messageOf(err)}`);
      return "unknown";
    }
  }

  /** Grants are read with list (by label, and by name for one): the controller's RBAC has no get on RoleBindings. */
  private async readGrants(namespace: string, name?: string): Promise<RoleBinding[]> {
    const { items } = await this.deps.api.list(RoleBindings, {
      namespace,
      labelSelector: GRANT_SELECTOR,
      ...(name ? { fieldSelector: `metadata.name=${name}` } : {}),
    });
    return items.map((raw) => parseObject(RoleBinding, raw, "RoleBinding")).filter(isGrant);
  }

  /** A grant stopped binding anyone: a log line, the metric, and an Event on its workload when it is known. */
  private async ended(grant: RoleBinding, why: EndReason, how: "deleted" | "emptied"): Promise<void> {
    const { namespace, name } = grant.metadata;
    const { log, metrics, world, events } = this.deps;
    const subjects = (grant.subjects ?? []).map((s) => `${s.kind} ${s.namespace ? `${s.namespace}/` : ""}${s.name}`).join(", ");
    const ref = grantWorkload(grant.metadata) ?? "";
    const because =
      why === "expired"
        ? `it expired at ${grant.metadata.annotations?.[EXPIRES_ANNOTATION] ?? "(no readable expiry)"}`
        : why === "role-gone"
          ? `its Role ${grant.roleRef.name} is gone`
          : `its Role ${grant.roleRef.name} grants more than it should and the apiserver refuses to change it`;
    const did = how === "deleted" ? "Deleted" : "Emptied the subjects of (its delete was refused)";
    const message = `${did} grant RoleBinding ${namespace}/${name}: ${because}; ${subjects} no longer read the logs of ${ref}`;
    const of = parseWorkloadRef(ref);
    log.info(message, { kind: of?.kind, namespace, name: of?.name, reason: Reasons.GrantEnded, object: `RoleBinding/${name}`, cause: why });
    metrics?.grantsExpired.inc({ namespace, reason: why });
    const workload = workloadOfGrant(world, grant);
    if (workload) await events.normal(involved(workload), Reasons.GrantEnded, message);
  }
}

/** The workload a grant is for, when the controller knows it (an Event is recorded on it). */
export function workloadOfGrant(world: Pick<World, "get">, grant: RoleBinding): Workload | undefined {
  const ref = parseWorkloadRef(grantWorkload(grant.metadata) ?? "");
  return ref && world.get(ref.kind, grant.metadata.namespace, ref.name);
}

// Ends grants on time: each grant RoleBinding is ended when it expires (a timer set for that
// instant, not a poll), or as soon as its Role is gone: deleted, or emptied where the delete is
// refused (grant-ending.ts). A grant that expired while the controller was down is ended when it
// starts; the resync checks every grant again.
import { expiresAtMs, GRANT_SELECTOR, isExpired, isGrant } from "../access/grants.ts";
import { keyOf, type World } from "../access/membership.ts";
import type { KubeApi } from "../kube/api.ts";
import { Informer, InformerGroup } from "../kube/informer.ts";
import { parseObject, RoleBinding } from "../kube/objects.ts";
import { RoleBindings } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { Backoff } from "../util/backoff.ts";
import { involved, Reasons, type EventRecorder } from "./events.ts";
import type { Refusal } from "./fail-closed.ts";
import { workloadOfGrant, type GrantEnding } from "./grant-ending.ts";
import { LogReasons } from "./log-fields.ts";
import { messageOf } from "../util/errors.ts";

/** setTimeout holds at most 2^31-1 ms; a grant further away is looked at again after this. */
const MAX_TIMER_MS = 3600_000;

export type ExpiryVerdict = { action: "ignore" } | { action: "delete"; why: "expired" | "role-gone" } | { action: "wait"; untilMs: number };

/**
 * What to do with a RoleBinding now. Only bindings with the grant marks are ever deleted. A grant
 * ends at its expiry (or at once when its expiry cannot be read), and when the Role its
 * ownerReference names is no longer there with that uid. `roleUid` answers from the Role cache.
 */
export function expiryVerdict(
  binding: RoleBinding,
  nowMs: number,
  roleUid: (namespace: string, name: string) => string | undefined,
): ExpiryVerdict {
  if (!isGrant(binding)) return { action: "ignore" };
  const { metadata, roleRef } = binding;
  const owner = metadata.ownerReferences?.find((o) => o.kind === "Role" && o.name === roleRef.name);
  if (!owner || roleUid(metadata.namespace, roleRef.name) !== owner.uid) return { action: "delete", why: "role-gone" };
  if (isExpired(metadata, nowMs)) return { action: "delete", why: "expired" };
  return { action: "wait", untilMs: expiresAtMs(metadata)! };
}

export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

export interface GrantSource {
  get(namespace: string, name: string): RoleBinding | undefined;
  values(): Iterable<RoleBinding>;
}

export interface GrantExpiryDeps {
  /** Deletes a grant, or empties it where the delete is refused. */
  ending: Pick<GrantEnding, "end">;
  grants: GrantSource;
  /** The uid of the managed Role of that name in the controller's cache, if it is there. */
  roleUid: (namespace: string, name: string) => string | undefined;
  world: World;
  events: Pick<EventRecorder, "warn">;
  log: Logger;
  metrics?: Metrics;
  clock?: Clock;
}

/**
 * Keeps one timer per grant, set for its expiry. Nothing is deleted before `start()`: the caches
 * must have synced (an unsynced Role cache would make every Role look gone) and, with leader
 * election, this replica must lead.
 */
export class GrantExpiry {
  private readonly timers = new Map<string, () => void>();
  private readonly retries = new Map<string, Backoff>();
  /** Grants being ended now, and those of them that changed meanwhile (judged again after). */
  private readonly inFlight = new Set<string>();
  private readonly changedInFlight = new Set<string>();
  private started = false;
  private readonly clock: Clock;

  constructor(private readonly deps: GrantExpiryDeps) {
    this.clock = deps.clock ?? realClock;
  }

  start(): void {
    this.started = true;
    this.checkAll();
  }

  stop(): void {
    this.started = false;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
  }

  /** Looks at every grant again (the resync, and after a Role went away). */
  checkAll(): void {
    for (const b of this.deps.grants.values()) this.check(b.metadata.namespace, b.metadata.name);
  }

  /** A managed Role changed or went away: look again at the grants that bind it. */
  roleChanged(namespace: string, roleName: string): void {
    for (const b of this.deps.grants.values()) {
      if (b.metadata.namespace === namespace && b.roleRef.name === roleName) this.check(namespace, b.metadata.name);
    }
  }

  /** A grant changed, appeared or went away. */
  onChange(old: RoleBinding | undefined, current: RoleBinding | undefined): void {
    const b = current ?? old;
    if (b) this.check(b.metadata.namespace, b.metadata.name);
  }

  /** Decides for one grant, from the cache, now: delete it, or set its timer. */
  check(namespace: string, name: string): void {
    const key = keyOf({ namespace, name });
    this.timers.get(key)?.();
    this.timers.delete(key);
    if (!this.started) return;
    if (this.inFlight.has(key)) {
      this.changedInFlight.add(key);
      return;
    }
    const binding = this.deps.grants.get(namespace, name);
    if (!binding) {
      this.retries.delete(key);
      return;
    }
    const verdict = expiryVerdict(binding, this.clock.now(), this.deps.roleUid);
    if (verdict.action === "ignore") return;
    if (verdict.action === "wait") {
      this.timers.set(
        key,
        this.clock.after(Math.min(MAX_TIMER_MS, Math.max(0, verdict.untilMs - this.clock.now())), () => this.check(namespace, name)),
      );
      return;
    }
    void this.remove(binding, verdict.why);
  }

  private async remove(binding: RoleBinding, why: "expired" | "role-gone"): Promise<void> {
    const { namespace, name } = binding.metadata;
    const key = keyOf({ namespace, name });
    this.inFlight.add(key);
    let end: Awaited<ReturnType<GrantEnding["end"]>>;
    try {
      end = await this.deps.ending.end(binding, why);
    } finally {
      this.inFlight.delete(key);
    }
    const changed = this.changedInFlight.delete(key);
    if (end.refusals.length > 0) await this.reportRefusals(binding, end.refusals, end.ended);
    if (end.ended && end.refusals.length === 0 && !end.changed) {
      this.retries.delete(key);
      if (changed) this.check(namespace, name);
      return;
    }
    // Not ended, changed since the cache saw it (renewed, say), or ended only by emptying it: judged
    // again from the cache after the backoff, by when the watch has brought what changed.
    const backoff = this.retries.get(key) ?? new Backoff(1000, 60_000);
    this.retries.set(key, backoff);
    this.timers.set(
      key,
      this.clock.after(backoff.next(), () => this.check(namespace, name)),
    );
  }

  /** Each refused write of a grant: a log line and the metric; a Warning Event on the workload for them all. */
  private async reportRefusals(binding: RoleBinding, refusals: readonly Refusal[], ended: boolean): Promise<void> {
    const { namespace, name } = binding.metadata;
    const { log, metrics } = this.deps;
    for (const r of refusals) {
      metrics?.roleWritesRefused.inc({ namespace, verb: r.verb, resource: r.rt.plural });
      log.warn(`The apiserver refused to ${r.verb} grant RoleBinding ${namespace}/${name}: ${messageOf(r.error).slice(0, 600)}`, {
        namespace,
        reason: LogReasons.RoleWriteRefused,
        object: `RoleBinding/${name}`,
        verb: r.verb,
      });
    }
    const workload = workloadOfGrant(this.deps.world, binding);
    if (!workload) return;
    const first = refusals[0]!;
    const outcome = ended ? "its subjects were emptied, so it binds nobody" : "it still binds its subjects";
    await this.deps.events.warn(
      involved(workload),
      Reasons.RoleWriteRefused,
      `The apiserver refused to ${first.verb} grant RoleBinding ${name}: ${messageOf(first.error).slice(0, 600)}; ${outcome}; retrying`,
    );
  }
}

/** The watch of grant RoleBindings: only those labelled as grants enter memory. */
export function grantWatch(
  api: KubeApi,
  namespaces: readonly string[],
  onChange: (old: RoleBinding | undefined, current: RoleBinding | undefined) => void,
  log: Logger,
  metrics?: Metrics,
): InformerGroup<RoleBinding> {
  return new InformerGroup<RoleBinding>(
    namespaces,
    (namespace) =>
      new Informer<RoleBinding>({
        api,
        resource: RoleBindings,
        namespace,
        labelSelector: GRANT_SELECTOR,
        parse: (raw) => parseObject(RoleBinding, raw, "RoleBinding"),
        key: (o) => keyOf(o.metadata),
        versionOf: (o) => o.metadata.resourceVersion,
        onChange,
        log: log.with({ resource: "rolebindings", selector: GRANT_SELECTOR }),
        onRestart: () => metrics?.watchRestarts.inc({ resource: "rolebindings" }),
      }),
  );
}

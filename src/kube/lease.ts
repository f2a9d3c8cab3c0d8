// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: a lease is taken
// over only after it went unrenewed for its whole duration, as seen by this process's own clock
// (never by comparing clocks), every write is guarded by the resourceVersion read, and the leader
// gives the lease up on shutdown so a standby need not wait for it to expire.
// Written here because client-node's leader election builds on its own HTTP layer, which does not
// carry our TLS settings under Bun.
import type { Logger } from "../log.ts";
import { sleep } from "../util/sleep.ts";
import type { KubeApi } from "./api.ts";
import { Leases } from "./resources.ts";
import { isConflict, isNotFound } from "./transport.ts";
import { messageOf } from "../util/errors.ts";

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Told whether this process leads: false at first, then at each change (client-go's leader_election_master_status). */
  onLeading?: (leading: boolean) => void;
}

interface LeaseObject {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** A write was about to start without holding the lease; it is not sent. */
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
}

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private lastRenew = 0;
  /** The Lease as this process last wrote it, while it holds it: a renewal updates it without reading first. */
  private held: LeaseObject | undefined;

  private readonly log: Logger;

  constructor(
    private readonly api: KubeApi,
    private readonly opts: LeaseOptions,
    log: Logger,
  ) {
    this.log = log.with({ kind: "Lease", namespace: opts.namespace, name: opts.name });
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    opts.onLeading?.(false);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.opts.onLeading?.(leading);
  }

  /**
   * The write fence: throws unless this process leads and renewed the lease within the renew
   * deadline. The deadline is shorter than the lease, so no write starts once a standby may have
   * taken over, even while the renewal itself hangs.
   */
  assertLeading(): void {
    if (!this.leading) throw new NotLeaderError(`not the leader of Lease ${this.opts.namespace}/${this.opts.name}`);
    const since = Date.now() - this.lastRenew;
    if (since >= this.renewDeadlineMs) {
      throw new NotLeaderError(
        `Lease ${this.opts.namespace}/${this.opts.name} not renewed for ${(since / 1000).toFixed(1)}s (renew deadline ` +
          `${this.renewDeadlineMs / 1000}s)`,
      );
    }
  }

  private read(signal?: AbortSignal): Promise<LeaseObject> {
    return this.api.get(Leases, this.opts.namespace, this.opts.name, undefined, signal) as Promise<LeaseObject>;
  }

  /**
   * Waits until this process holds the lease, then keeps renewing it in the background until
   * `signal` aborts. `onLost` is called if renewing fails for longer than the renew deadline.
   * Resolves true once leading, false if `signal` aborted first.
   */
  async lead(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    const where = `Lease ${this.opts.namespace}/${this.opts.name}`;
    this.log.info(`Waiting to become the leader (${where}, identity ${this.opts.identity})`, {
      reason: "WaitingForLeadership",
      identity: this.opts.identity,
    });
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) {
      await sleep(this.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    if (signal.aborted) return false;
    this.setLeading(true);
    this.log.info(`Became the leader (${where})`, { reason: "BecameLeader", identity: this.opts.identity });
    void this.renewLoop(signal, onLost);
    return true;
  }

  private async renewLoop(signal: AbortSignal, onLost: () => void): Promise<void> {
    while (!signal.aborted && this.leading) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) return;
      // A renewal that hangs must not outlast the deadline: the fence closes then anyway.
      const left = Math.max(1, this.lastRenew + this.renewDeadlineMs - Date.now());
      if (await this.renew(AbortSignal.any([signal, AbortSignal.timeout(left)]))) continue;
      if (Date.now() - this.lastRenew > this.renewDeadlineMs) {
        this.setLeading(false);
        this.log.error(
          `Lost the leadership of Lease ${this.opts.namespace}/${this.opts.name}: not renewed for ${this.renewDeadlineMs / 1000}s`,
          { reason: "LeadershipLost" },
        );
        onLost();
        return;
      }
    }
  }

  /** Gives the lease up, if held, so a standby takes over at once. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.setLeading(false);
    this.held = undefined;
    try {
      const lease = await this.read();
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.api.update(Leases, this.opts.namespace, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(Date.now()) },
      });
      this.log.info(`Released Lease ${this.opts.namespace}/${this.opts.name}`, { reason: "LeaseReleased" });
    } catch (err) {
      this.log.warn(`Could not release Lease ${this.opts.namespace}/${this.opts.name}: ${messageOf(err)}; it expires on its own`, {
        reason: "LeaseNotReleased",
      });
    }
  }

  /**
   * As client-go does: the leader first updates the Lease it last wrote, one request, on the
   * condition of its resourceVersion; only if that fails does it read the Lease and decide again.
   */
  private async renew(signal: AbortSignal): Promise<boolean> {
    const held = this.held;
    if (held) {
      const now = Date.now();
      try {
        this.held = (await this.api.update(
          Leases,
          this.opts.namespace,
          { ...held, spec: { ...held.spec, renewTime: microTime(now) } },
          { signal },
        )) as LeaseObject;
        this.lastRenew = now;
        return true;
      } catch (err) {
        this.held = undefined;
        if (signal.aborted) return false;
        if (!isConflict(err))
          this.log.warn(`Renewing Lease ${this.opts.namespace}/${this.opts.name} failed: ${messageOf(err)}; reading it again`);
      }
    }
    return this.tryAcquireOrRenew(signal);
  }

  private async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const now = Date.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    try {
      let lease: LeaseObject;
      try {
        lease = await this.read(signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.held = (await this.api.create(Leases, this.opts.namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: {
            holderIdentity: this.opts.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        })) as LeaseObject;
        this.lastRenew = now;
        return true;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const record = `${holder}\0${spec.renewTime ?? ""}\0${spec.leaseDurationSeconds ?? ""}`;
      if (this.observed?.record !== record) this.observed = { record, at: now };
      const mine = holder === this.opts.identity;
      if (holder && !mine) {
        const held = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
        if (now < this.observed.at + held) return false;
      }
      this.held = (await this.api.update(
        Leases,
        this.opts.namespace,
        {
          ...lease,
          spec: {
            holderIdentity: this.opts.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: mine ? spec.acquireTime : microTime(now),
            renewTime: microTime(now),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
        { signal },
      )) as LeaseObject;
      this.lastRenew = now;
      return true;
    } catch (err) {
      if (!isConflict(err))
        this.log.warn(`Leader election on Lease ${this.opts.namespace}/${this.opts.name} failed: ${messageOf(err)}`, {
          reason: "LeaderElectionFailed",
        });
      return false;
    }
  }
}

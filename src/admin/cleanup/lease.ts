// Whether the controller's Lease is still held: a running leader would recreate what cleanup removes.

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  renewTime?: string | null;
}

/** The lease's holder, when it has one that has not given the lease up. */
export function holderOf(spec: LeaseSpec | undefined): string | undefined {
  return spec?.holderIdentity || undefined;
}

/**
 * A one-look answer: held, and by this machine's clock renewed within its duration. Clocks of two
 * machines are compared here, so this is only good for a warning; waiting uses LeaseObserver.
 */
export function looksHeld(spec: LeaseSpec | undefined, nowMs: number): boolean {
  if (!holderOf(spec)) return false;
  const renewed = spec?.renewTime ? Date.parse(spec.renewTime) : NaN;
  if (Number.isNaN(renewed) || !spec?.leaseDurationSeconds) return true;
  return nowMs < renewed + spec.leaseDurationSeconds * 1000;
}

/**
 * client-go's rule for a standby: a lease is free once it is released (no holder) or its record
 * stayed unchanged for its whole duration as seen by this process's own clock. A leader stops
 * writing before that (its renew deadline is shorter than the lease), so whatever is deleted
 * after the lease is free stays deleted.
 */
export class LeaseObserver {
  private observed: { record: string; at: number } | undefined;

  /** `spec` undefined: there is no Lease. */
  isFree(spec: LeaseSpec | undefined, nowMs: number): boolean {
    const holder = holderOf(spec);
    if (!holder) return true;
    const record = `${holder}\0${spec?.renewTime ?? ""}\0${spec?.leaseDurationSeconds ?? ""}`;
    if (this.observed?.record !== record) this.observed = { record, at: nowMs };
    const durationMs = (spec?.leaseDurationSeconds ?? 0) * 1000;
    return durationMs > 0 && nowMs >= this.observed.at + durationMs;
  }
}

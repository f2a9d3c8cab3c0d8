// `podlogreader cleanup`: removes every RoleBinding, Role and ServiceAccount podlogreader made in
// the namespaces asked for, and its leader-election Lease. Meant for after the controller stopped
// (a running leader recreates what it manages); the Lease tells whether one still runs.
import type { KubeApi } from "../kube/api.ts";
import { PartialObjectMetadata, parseObject, RoleBinding } from "../kube/objects.ts";
import { Leases, type ResourceType } from "../kube/resources.ts";
import { ApiError, isConflict, isNotFound } from "../kube/transport.ts";
import { sleep } from "../util/sleep.ts";
import { limiter } from "../util/limit.ts";
import { retrying } from "../kube/retry.ts";
import { permission } from "./cleanup/format.ts";
import { holderOf, LeaseObserver, looksHeld, type LeaseSpec } from "./cleanup/lease.ts";
import { madeByPodlogreader } from "./cleanup/made-by.ts";
import {
  CLEANUP_ORDER,
  CLEANUP_RESOURCES,
  planCleanup,
  type CleanupKind,
  type Found,
  type LeftAlone,
  type Target,
} from "./cleanup/plan.ts";
import { messageOf } from "../util/errors.ts";

export interface CleanupRequest {
  /** The namespaces to clean; undefined means every namespace. */
  namespaces: string[] | undefined;
  /** The controller's leader-election Lease: checked first, deleted last. */
  lease?: { namespace: string; name: string };
  /** How long to wait for a held Lease to be released or to expire before deleting anything. */
  waitForLeaseMs: number;
  /** Send every delete with dryRun=All: the apiserver authorizes and checks it, and deletes nothing. */
  dryRun: boolean;
}

export interface Removed {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid: string;
  /** The workload it was made for, `Kind/name`; none for the Lease. */
  workload?: string;
}

export interface CleanupReport {
  dryRun: boolean;
  namespaces: string[] | "all";
  removed: Removed[];
  leftAlone: LeftAlone[];
  lease?: { namespace: string; name: string; result: "deleted" | "absent" | "not-reached" };
  warnings: string[];
  /** Each failure, with the permission it lacked when the apiserver said Forbidden. Nothing after the first failing step is tried. */
  errors: string[];
  ok: boolean;
}

export interface CleanupProgress {
  removed?(r: Removed): void;
  warn?(message: string): void;
  /** What it is waiting for, so a long pause has a reason on the screen. */
  note?(message: string): void;
}

const CONCURRENT_DELETES = 8;
/** A delete whose object keeps changing under it is judged again at most this often. */
const MAX_REJUDGED = 5;
const LEASE_POLL_MS = 1_000;

/** A failure of one request, told as what was asked and, when refused, the permission it lacked. */
export class CleanupError extends Error {
  override name = "CleanupError";
}

/**
 * `scope.name` names the object in the message; the permission names it only when `byName` (the
 * Lease, which RBAC can grant by name; cleanup's lists and deletes of managed objects cannot be).
 */
function explain(err: unknown, verb: string, rt: ResourceType, scope: { namespace?: string; name?: string }, byName = false): CleanupError {
  if (err instanceof ApiError && err.status === 403) {
    return new CleanupError(
      `missing permission: ${permission(verb, rt, byName ? scope : { namespace: scope.namespace })} (${err.message})`,
      { cause: err },
    );
  }
  const what = scope.name
    ? `${rt.kind} ${scope.namespace ? `${scope.namespace}/` : ""}${scope.name}`
    : `${rt.plural} ${scope.namespace ? `in namespace ${scope.namespace}` : "in all namespaces"}`;
  return new CleanupError(`${verb} ${what}: ${messageOf(err)}`, { cause: err });
}

export async function cleanup(api: KubeApi, req: CleanupRequest, progress: CleanupProgress = {}): Promise<CleanupReport> {
  const report: CleanupReport = {
    dryRun: req.dryRun,
    namespaces: req.namespaces ?? "all",
    removed: [],
    leftAlone: [],
    warnings: [],
    errors: [],
    ok: false,
  };
  const warn = (message: string) => {
    report.warnings.push(message);
    progress.warn?.(message);
  };
  if (req.lease) report.lease = { ...req.lease, result: "not-reached" };
  try {
    if (req.lease) await checkLease(api, req.lease, req.waitForLeaseMs, warn, progress.note ?? (() => {}));
    const plan = planCleanup(await listInScope(api, req.namespaces));
    report.leftAlone.push(...plan.leftAlone);
    for (const w of plan.warnings) warn(w);
    for (const kind of CLEANUP_ORDER) await deleteAll(api, kind, plan.targets[kind], req.dryRun, report, progress);
    if (req.lease) report.lease!.result = await deleteLease(api, req.lease, req.dryRun, report, progress);
  } catch (err) {
    if (!(err instanceof CleanupError)) throw err;
    report.errors.push(err.message);
  }
  report.ok = report.errors.length === 0;
  return report;
}

async function readLease(
  api: KubeApi,
  lease: { namespace: string; name: string },
): Promise<{ metadata: { uid: string; resourceVersion: string }; spec?: LeaseSpec } | undefined> {
  try {
    return (await retrying(() => api.get(Leases, lease.namespace, lease.name))) as {
      metadata: { uid: string; resourceVersion: string };
      spec?: LeaseSpec;
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw explain(err, "get", Leases, lease, true);
  }
}

/** Warns when the Lease is held; first waits up to `waitMs` for it to be released or to expire. */
async function checkLease(
  api: KubeApi,
  lease: { namespace: string; name: string },
  waitMs: number,
  warn: (m: string) => void,
  note: (m: string) => void,
): Promise<void> {
  let spec = (await readLease(api, lease))?.spec;
  if (waitMs > 0) {
    const observer = new LeaseObserver();
    const deadline = Date.now() + waitMs;
    if (!observer.isFree(spec, Date.now()))
      note(
        `Waiting up to ${waitMs / 1000}s for Lease ${lease.namespace}/${lease.name}, held by ${holderOf(spec)}, to be released or ` +
          `to expire`,
      );
    while (!observer.isFree(spec, Date.now())) {
      if (Date.now() >= deadline) {
        warn(
          `Lease ${lease.namespace}/${lease.name} is still held by ${holderOf(spec)} after waiting ${waitMs / 1000}s: podlogreader ` +
            `still runs and recreates what cleanup removes; stop it first (scale its Deployment to 0) and run cleanup again`,
        );
        return;
      }
      await sleep(Math.min(LEASE_POLL_MS, Math.max(0, deadline - Date.now())));
      spec = (await readLease(api, lease))?.spec;
    }
    return;
  }
  if (looksHeld(spec, Date.now())) {
    warn(
      `Lease ${lease.namespace}/${lease.name} is held by ${holderOf(spec)}, renewed at ${spec?.renewTime ?? "an unknown time"}: ` +
        `podlogreader seems to run still and would recreate what cleanup removes; stop it first (scale its Deployment to 0) and run ` +
        `cleanup again, or use --wait-for-lease`,
    );
  }
}

async function listInScope(api: KubeApi, namespaces: string[] | undefined): Promise<Found[]> {
  const found: Found[] = [];
  for (const namespace of namespaces ?? [undefined]) {
    for (const kind of CLEANUP_ORDER) {
      const rt = CLEANUP_RESOURCES[kind];
      let items: unknown[];
      try {
        // Only a binding's subjects and roleRef matter beyond metadata.
        items = (await retrying(() => api.list(rt, { namespace, metadataOnly: kind !== "RoleBinding" }))).items;
      } catch (err) {
        throw explain(err, "list", rt, { namespace });
      }
      for (const item of items) {
        found.push(
          kind === "RoleBinding"
            ? { kind, ...parseObject(RoleBinding, item, "RoleBinding") }
            : { kind, metadata: parseObject(PartialObjectMetadata, item, kind).metadata },
        );
      }
    }
  }
  return found;
}

/** Deletes every target of one kind; if any fails, the errors are reported and the next kinds are not tried. */
async function deleteAll(
  api: KubeApi,
  kind: CleanupKind,
  targets: Target[],
  dryRun: boolean,
  report: CleanupReport,
  progress: CleanupProgress,
): Promise<void> {
  const rt = CLEANUP_RESOURCES[kind];
  const limit = limiter(CONCURRENT_DELETES);
  const outcomes = await Promise.all(
    targets.map((t) =>
      limit(async () => {
        try {
          return await deleteMade(api, rt, t, dryRun);
        } catch (err) {
          if (!(err instanceof CleanupError)) throw err;
          return err;
        }
      }),
    ),
  );
  // Told in the planned order, not in the order the concurrent deletes finished.
  const failures: string[] = [];
  outcomes.forEach((outcome, i) => {
    const t = targets[i]!;
    if (outcome instanceof CleanupError) failures.push(outcome.message);
    else if (outcome === "deleted") {
      const removed: Removed = {
        kind,
        apiVersion: apiVersionOf(rt),
        namespace: t.namespace,
        name: t.name,
        uid: t.uid,
        workload: t.workload,
      };
      report.removed.push(removed);
      progress.removed?.(removed);
    } else if (outcome !== "gone") report.leftAlone.push(outcome);
  });
  if (failures.length === 0) return;
  const later = CLEANUP_ORDER.slice(CLEANUP_ORDER.indexOf(kind) + 1);
  report.errors.push(...failures.slice(0, -1));
  const stopped = later.length ? `; stopped before deleting ${later.map((k) => `${k}s`).join(", ")}` : "";
  throw new CleanupError(`${failures.at(-1)!}${stopped}`);
}

/**
 * Deletes exactly the version that was judged (uid and resourceVersion preconditions). If it
 * changed since, it is read and judged again, so an object replaced in between is never removed
 * unless it too was made by podlogreader.
 */
async function deleteMade(api: KubeApi, rt: ResourceType, target: Target, dryRun: boolean): Promise<"deleted" | "gone" | LeftAlone> {
  const { namespace, name } = target;
  let preconditions = { uid: target.uid, resourceVersion: target.resourceVersion };
  for (let judged = 1; ; judged++) {
    try {
      await retrying(() => api.delete(rt, namespace, name, preconditions, "Background", { dryRun }));
      return "deleted";
    } catch (err) {
      if (isNotFound(err)) return "gone";
      if (!isConflict(err) || judged >= MAX_REJUDGED) throw explain(err, "delete", rt, { namespace, name });
    }
    let meta: PartialObjectMetadata["metadata"];
    try {
      meta = parseObject(PartialObjectMetadata, await retrying(() => api.get(rt, namespace, name)), rt.kind).metadata;
    } catch (err) {
      if (isNotFound(err)) return "gone";
      throw explain(err, "get", rt, { namespace, name });
    }
    const verdict = madeByPodlogreader(meta);
    if (!verdict.made)
      return { kind: rt.kind, namespace, name, why: `replaced since it was listed, and not made by podlogreader: ${verdict.why}` };
    preconditions = { uid: meta.uid, resourceVersion: meta.resourceVersion };
  }
}

async function deleteLease(
  api: KubeApi,
  lease: { namespace: string; name: string },
  dryRun: boolean,
  report: CleanupReport,
  progress: CleanupProgress,
): Promise<"deleted" | "absent"> {
  for (let attempt = 1; ; attempt++) {
    const live = await readLease(api, lease);
    if (!live) return "absent";
    try {
      // The version read: a renewal in between is read again rather than deleted unseen.
      await retrying(() =>
        api.delete(
          Leases,
          lease.namespace,
          lease.name,
          { uid: live.metadata.uid, resourceVersion: live.metadata.resourceVersion },
          "Background",
          { dryRun },
        ),
      );
    } catch (err) {
      if (isNotFound(err)) return "absent";
      if (isConflict(err) && attempt < MAX_REJUDGED) continue;
      throw explain(err, "delete", Leases, lease, true);
    }
    const removed: Removed = {
      kind: "Lease",
      apiVersion: apiVersionOf(Leases),
      namespace: lease.namespace,
      name: lease.name,
      uid: live.metadata.uid,
    };
    report.removed.push(removed);
    progress.removed?.(removed);
    return "deleted";
  }
}

function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

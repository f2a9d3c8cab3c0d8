// The logs of a workload's pods, as its `own` grant allows: the workload's Role (get by name)
// names the pods, or, when it names none (`--role-pod-names=none`), the pods are listed by the
// workload's selector as the webhook authorizer allows; their log streams start and stop as the
// pods change.
import type { V1Pod } from "@kubernetes/client-node";
import type { WorkloadKind } from "../access/kinds.ts";
import { managedName } from "../access/names.ts";
import type { KubeApi } from "../kube/api.ts";
import { parseObject, Role } from "../kube/objects.ts";
import { Pods, Roles, SelfSubjectAccessReviews } from "../kube/resources.ts";
import { ApiError } from "../kube/transport.ts";
import { Backoff } from "../util/backoff.ts";
import { sleep } from "../util/sleep.ts";
import { containersToRead, type ContainerChoice } from "./containers.ts";
import { grantedPods, roleMode, unmanagedReason } from "../access/role-pods.ts";
import { SelectedPods } from "./selected.ts";
import { classifyFailure, FORBIDDEN_ATTEMPTS, streamContainer, type Output, type StreamEnd, type StreamSettings } from "./stream.ts";
import { messageOf } from "../util/errors.ts";

/** How often the Role is read again while following: a get-by-name grant allows no watch. */
export const ROLE_POLL_MS = 2000;
/**
 * How often, while following, the apiserver is asked whether each followed pod's log may still be
 * read. It authorizes a log request when it starts, so an open stream outlives a grant that
 * expired or was revoked; this ends it.
 */
export const ACCESS_CHECK_MS = 5000;

/**
 * Whether this client may still read the pod's log (SelfSubjectAccessReview of get pods/log on
 * it): true or false as the authorizer answers, undefined when it could not be asked.
 */
export async function mayReadLog(api: KubeApi, namespace: string, pod: string): Promise<boolean | undefined> {
  try {
    const review = (await api.review(SelfSubjectAccessReviews, {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { namespace, verb: "get", resource: "pods", subresource: "log", name: pod } },
    })) as { status?: { allowed?: boolean } };
    return review.status?.allowed === true;
  } catch {
    return undefined;
  }
}

export interface LogsRequest extends StreamSettings {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  containers: ContainerChoice;
}

/** A failure the command reports as one line and exit code 1. */
export class LogsError extends Error {
  override name = "LogsError";
}

/**
 * Prints the logs of the workload's pods to `out`. Without `follow`: the current pods, one after
 * the other, then returns. With `follow`: until `signal` aborts (0), or access to the Role is lost
 * or it stops carrying podlogreader's marks for the workload, or access to the log of every
 * followed pod has ended (1). Returns the exit code; throws LogsError when the Role cannot be read
 * at the start or is not podlogreader's for the workload.
 */
export async function printWorkloadLogs(
  api: KubeApi,
  request: LogsRequest,
  out: Output,
  signal: AbortSignal,
  pollMs = ROLE_POLL_MS,
  accessMs = ACCESS_CHECK_MS,
): Promise<number> {
  const roleName = managedName(request.kind, request.name);
  const role = await readRole(api, request, roleName).catch((err: unknown) => {
    throw new LogsError(roleError(err, request, roleName));
  });
  const foreign = foreignRole(role, request);
  if (foreign) throw new LogsError(`${foreign}; not reading the pods it names`);
  const selected = new SelectedPods(api, request);
  const waiting = request.follow ? "; waiting for some" : "";
  let refusedAtStart = false;
  const pods = await podsOf(role, selected, signal).catch((err: unknown) => {
    if (!refused(err)) throw new LogsError(listError(err, request));
    out.note(`${refusedNote(request, roleName)}${waiting}`);
    refusedAtStart = true;
    return [];
  });
  if (pods.length === 0 && !refusedAtStart) {
    out.note(
      roleMode(role) === "names"
        ? `Role ${request.namespace}/${roleName} names no pods yet: ${request.kind}/${request.name} has none${waiting}`
        : `${request.kind}/${request.name} has no pods${waiting}`,
    );
  }
  if (!request.follow) return printOnce(api, request, pods, out, signal);
  return follow(api, request, roleName, role, { pods, refused: refusedAtStart }, selected, out, signal, pollMs, accessMs);
}

/** The pods to read: the ones the Role names, or, when it names none, the workload's pods as listed. */
function podsOf(role: Role, selected: SelectedPods, signal: AbortSignal): Promise<string[]> {
  return roleMode(role) === "names" ? Promise.resolve(grantedPods(role)) : selected.current(role, signal);
}

/**
 * A list by selector the authorizer refused (Forbidden), or could not decide (InternalError: the
 * webhook unreachable). With a Role that names no pod, that is either a workload with no pods in
 * `names` mode, where nothing allows such a list, or `none` mode without the webhook's allow.
 */
function refused(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 403 || err.status === 500);
}

function refusedNote(request: LogsRequest, roleName: string): string {
  return (
    `Role ${request.namespace}/${roleName} names no pods, and listing ${request.kind}/${request.name}'s pods by its selector was ` +
    `refused: ` +
    "it has none, or, with --role-pod-names=none, podlogreader's webhook authorizer did not allow the list (is the apiserver " +
    "configured to call it, and is it running?)"
  );
}

function listError(err: unknown, request: LogsRequest): string {
  const what = `${request.kind}/${request.name}'s pods`;
  if (err instanceof ApiError && err.status === 401) return `the credentials were refused (401 Unauthorized): the token may have expired`;
  return `cannot list ${what}: ${messageOf(err)}`;
}

async function readRole(api: KubeApi, request: LogsRequest, roleName: string): Promise<Role> {
  return parseObject(Role, await api.get(Roles, request.namespace, roleName), `Role ${request.namespace}/${roleName}`);
}

/** Why the Role is not podlogreader's Role for the workload, as one line, or undefined when it is. */
function foreignRole(role: Role, request: LogsRequest): string | undefined {
  const reason = unmanagedReason(role.metadata, request);
  return (
    reason && `Role ${request.namespace}/${role.metadata.name} is not podlogreader's Role for ${request.kind}/${request.name}: ${reason}`
  );
}

function roleError(err: unknown, request: LogsRequest, roleName: string): string {
  const where = `Role ${request.namespace}/${roleName}`;
  if (err instanceof ApiError && err.status === 404) {
    return `${where} does not exist: is ${request.kind}/${request.name} in namespace ${request.namespace} opted in to podlogreader?`;
  }
  if (err instanceof ApiError && err.status === 403) {
    return (
      `cannot read ${where} (Forbidden): this command needs get on the workload's Role, which podlogreader grants the workload's ` +
      `ServiceAccount`
    );
  }
  if (err instanceof ApiError && err.status === 401) return `the credentials were refused (401 Unauthorized): the token may have expired`;
  return `cannot read ${where}: ${messageOf(err)}`;
}

async function printOnce(api: KubeApi, request: LogsRequest, pods: string[], out: Output, signal: AbortSignal): Promise<number> {
  let failed = false;
  for (const pod of pods) {
    const ends = await readPod(api, request, pod, out, signal);
    if (ends.includes("failed")) failed = true;
  }
  return failed ? 1 : 0;
}

async function follow(
  api: KubeApi,
  request: LogsRequest,
  roleName: string,
  first: Role,
  firstList: { pods: string[]; refused: boolean },
  selected: SelectedPods,
  out: Output,
  signal: AbortSignal,
  pollMs: number,
  accessMs: number,
): Promise<number> {
  const streams = new Map<string, AbortController>();
  const running = new Set<Promise<unknown>>();
  /** Pods whose log access ended while followed: never followed again by this run. */
  const ended = new Set<string>();
  const sync = (names: string[], announce: boolean, mode: "names" | "none") => {
    const wanted = new Set(names);
    const where = mode === "names" ? `in Role ${roleName}` : `one of ${request.kind}/${request.name}'s pods`;
    for (const [pod, stop] of streams) {
      if (wanted.has(pod)) continue;
      stop.abort();
      streams.delete(pod);
      out.note(`- pod/${pod}: no longer ${where}; stopped following it`);
    }
    for (const pod of wanted) {
      if (streams.has(pod) || ended.has(pod)) continue;
      const stop = new AbortController();
      streams.set(pod, stop);
      if (announce) out.note(`+ pod/${pod}: now ${where}; following it`);
      const task = readPod(api, request, pod, out, AbortSignal.any([signal, stop.signal]));
      running.add(task);
      void task.finally(() => running.delete(task));
    }
  };

  /** Ends the streams of the pods whose log the authorizer no longer lets this client read. */
  const checkAccess = async () => {
    const pods = [...streams.keys()];
    const allowed = await Promise.all(pods.map((pod) => mayReadLog(api, request.namespace, pod)));
    pods.forEach((pod, i) => {
      if (allowed[i] !== false || !streams.has(pod)) return;
      streams.get(pod)!.abort();
      streams.delete(pod);
      ended.add(pod);
      out.note(`- pod/${pod}: access to its log ended (the apiserver no longer allows get pods/log on it); stopped following it`);
    });
  };

  sync(firstList.pods, false, roleMode(first));
  let version = first.metadata.resourceVersion;
  const failures = new Backoff(pollMs, 30_000);
  let failing = false;
  let code = 0;
  let lastAccessCheck = Date.now();
  /** The last list by selector was refused: said once until one succeeds. */
  let refusedBefore = firstList.refused;
  while (!signal.aborted) {
    await sleep(failing ? failures.next() : pollMs, signal);
    if (signal.aborted) break;
    if (Date.now() - lastAccessCheck >= accessMs) {
      lastAccessCheck = Date.now();
      await checkAccess();
      if (signal.aborted) break;
      if (ended.size > 0 && streams.size === 0) {
        out.note(`access to the logs of every followed pod of ${request.kind}/${request.name} has ended; stopped following`);
        code = 1;
        break;
      }
    }
    let role: Role;
    try {
      role = await readRole(api, request, roleName);
    } catch (err) {
      if (signal.aborted) break;
      const failure = classifyFailure(err);
      if (failure === "forbidden" || failure === "gone" || (err instanceof ApiError && err.status === 401)) {
        out.note(
          `${failure === "gone" ? `Role ${request.namespace}/${roleName} was deleted` : roleError(err, request, roleName)}; ` +
            `stopped following`,
        );
        code = 1;
        break;
      }
      if (!failing) out.note(`cannot read Role ${request.namespace}/${roleName}: ${messageOf(err)}; retrying with backoff`);
      failing = true;
      continue;
    }
    const mode = roleMode(role);
    // Pods listed by selector change without the Role changing: they are listed on every poll.
    if (role.metadata.resourceVersion === version && mode === "names") {
      if (failing) out.note(`read Role ${request.namespace}/${roleName} again`);
      failing = false;
      failures.reset();
      continue;
    }
    version = role.metadata.resourceVersion;
    const foreign = foreignRole(role, request);
    if (foreign) {
      out.note(`${foreign}; stopped following`);
      code = 1;
      break;
    }
    let pods: string[];
    try {
      pods = await podsOf(role, selected, signal);
    } catch (err) {
      if (signal.aborted) break;
      // Fail closed: no new pod is followed; a followed pod's stream ends when its access does.
      if (refused(err)) {
        if (!refusedBefore) out.note(`${refusedNote(request, roleName)}; listing again every ${pollMs / 1000} s`);
        refusedBefore = true;
        continue;
      }
      if (!failing) out.note(`${listError(err, request)}; retrying with backoff`);
      failing = true;
      continue;
    }
    refusedBefore = false;
    if (failing)
      out.note(
        mode === "names" ? `read Role ${request.namespace}/${roleName} again` : `listed ${request.kind}/${request.name}'s pods again`,
      );
    failing = false;
    failures.reset();
    sync(pods, true, mode);
  }
  for (const stop of streams.values()) stop.abort();
  await Promise.all(running);
  return code;
}

/** Reads the pod's chosen containers: one after the other without follow, together with it. */
async function readPod(api: KubeApi, request: LogsRequest, pod: string, out: Output, signal: AbortSignal): Promise<StreamEnd[]> {
  const spec = await podSpec(api, request, pod, out, signal);
  if (typeof spec === "string") return [spec];
  const chosen = containersToRead(spec, request.containers);
  if ("missing" in chosen) {
    out.note(`pod/${pod}: has no container ${chosen.missing}`);
    return ["unavailable"];
  }
  const read = (container: string) => streamContainer(api, { namespace: request.namespace, pod, container }, request, out, signal);
  if (request.follow) return Promise.all(chosen.names.map(read));
  const ends: StreamEnd[] = [];
  for (const container of chosen.names) ends.push(await read(container));
  return ends;
}

/** The pod, to learn its containers; retried with backoff while following. */
async function podSpec(api: KubeApi, request: LogsRequest, pod: string, out: Output, signal: AbortSignal): Promise<V1Pod | StreamEnd> {
  const backoff = new Backoff(1000, 30_000);
  for (;;) {
    try {
      return (await api.get(Pods, request.namespace, pod)) as V1Pod;
    } catch (err) {
      if (signal.aborted) return "stopped";
      const failure = classifyFailure(err);
      // Without follow a deleted pod is done; with it, a StatefulSet may bring the name back.
      if (failure === "gone" && !request.follow) return "gone";
      if (failure === "forbidden" && backoff.failures + 1 >= FORBIDDEN_ATTEMPTS) {
        out.note(`pod/${pod}: cannot read the pod (Forbidden); skipped`);
        return "forbidden";
      }
      if (failure === "forbidden") {
        await sleep(backoff.next(), signal);
        if (signal.aborted) return "stopped";
        continue;
      }
      if (!request.follow) {
        out.note(`pod/${pod}: ${messageOf(err)}`);
        return "failed";
      }
      if (backoff.failures === 0 && failure !== "gone") out.note(`pod/${pod}: ${messageOf(err)}; retrying with backoff`);
      await sleep(backoff.next(), signal);
      if (signal.aborted) return "stopped";
    }
  }
}

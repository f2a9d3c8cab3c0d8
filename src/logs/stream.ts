// One container's log, read from pods/log and printed line by line, with the retry policy: a
// Forbidden, believed on the third answer in a row, ends it with a note (access was removed); a
// container that has not started yet (or a pod whose name is still granted but deleted, which a
// StatefulSet brings back) is retried quietly; other failures are retried with backoff. A followed
// stream that the server ends is reopened where it stopped, until the pod has finished or the
// caller stops it.
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api.ts";
import { lines } from "../util/lines.ts";
import { Pods } from "../kube/resources.ts";
import { ApiError } from "../kube/transport.ts";
import { Backoff } from "../util/backoff.ts";
import { sleep } from "../util/sleep.ts";
import { linePrefix, splitTimestamp, timestampNanos } from "./format.ts";
import { messageOf } from "../util/errors.ts";

export interface StreamTarget {
  namespace: string;
  pod: string;
  container: string;
}

export interface StreamSettings {
  follow: boolean;
  sinceSeconds?: number;
  tailLines?: number;
  timestamps: boolean;
  previous: boolean;
  colour: boolean;
}

/** Where lines and notes go: stdout and stderr in the command, buffers in tests. */
export interface Output {
  line(text: string): void;
  note(text: string): void;
}

/** Why a stream ended. */
export type StreamEnd = "stopped" | "finished" | "forbidden" | "gone" | "unavailable" | "failed";

/** How a failed log request is handled. */
export type Failure = "forbidden" | "gone" | "not-started" | "unavailable" | "empty" | "retry";

/** Without --follow, transient failures are tried this many times before giving up on the container. */
const ATTEMPTS_WITHOUT_FOLLOW = 3;

/** Classifies an error of a pods/log request (pure). */
export function classifyFailure(err: unknown): Failure {
  if (!(err instanceof ApiError)) return "retry";
  // KubeApi.stream's word for a 2xx answer without a body: a log with nothing in it yet.
  if (err.reason === "EmptyBody") return "empty";
  if (err.status === 403) return "forbidden";
  if (err.status === 404) return "gone";
  if (err.status === 400) {
    // The apiserver's words for a container with nothing to read yet, and for one that never will have.
    if (/is waiting to start|does not have a host assigned|PodInitializing|ContainerCreating/.test(err.message)) return "not-started";
    if (/previous terminated container .* not found|is not valid for pod/.test(err.message)) return "unavailable";
  }
  return "retry";
}

function reason(err: unknown): string {
  return err instanceof ApiError
    ? `${err.status}${err.reason ? ` ${err.reason}` : ""}: ${err.message.replace(/^.*?: \d{3}(?: \w+)?: /, "")}`
    : messageOf(err);
}

export async function streamContainer(
  api: KubeApi,
  target: StreamTarget,
  settings: StreamSettings,
  out: Output,
  signal: AbortSignal,
): Promise<StreamEnd> {
  const { namespace, pod, container } = target;
  const label = `pod/${pod}/${container}`;
  const prefix = linePrefix(pod, container, settings.colour);
  const errors = new Backoff(1000, 30_000);
  const waiting = new Backoff(500, 10_000);
  /**
   * The last printed timestamp and how many lines carried it, so a reopened stream (asked for
   * the lines since that time) neither repeats nor skips lines; lines can share a timestamp.
   */
  let last: { timestamp: string; nanos: bigint; count: number } | undefined;
  let attempts = 0;
  let forbidden = 0;
  let failing = false;

  const print = (raw: string, skip: { nanos: bigint; count: number } | undefined) => {
    const { timestamp, text } = splitTimestamp(raw);
    const nanos = timestamp ? timestampNanos(timestamp) : undefined;
    if (skip && nanos !== undefined) {
      if (nanos < skip.nanos) return;
      if (nanos === skip.nanos && skip.count > 0) {
        skip.count--;
        return;
      }
    }
    if (timestamp && nanos !== undefined)
      last = last?.nanos === nanos ? { ...last, count: last.count + 1 } : { timestamp, nanos, count: 1 };
    out.line(`${prefix}${settings.timestamps && timestamp ? `${timestamp} ` : ""}${text}`);
  };

  while (!signal.aborted) {
    attempts++;
    const skip = last ? { nanos: last.nanos, count: last.count } : undefined;
    const query = {
      container,
      follow: settings.follow || undefined,
      previous: settings.previous || undefined,
      timestamps: true,
      ...(last ? { sinceTime: last.timestamp } : { sinceSeconds: settings.sinceSeconds, tailLines: settings.tailLines }),
    };
    // While following, a stream that outlives its pod (replaced under the same name, or on a
    // node that went away) is cut by the pod check, and reopened for the pod now under that name.
    const attempt = new AbortController();
    const attemptSignal = AbortSignal.any([signal, attempt.signal]);
    const check = settings.follow ? checkPod(api, namespace, pod, attempt) : undefined;
    try {
      const body = await api.stream(Pods, namespace, pod, "log", query, attemptSignal);
      for await (const line of lines(body)) {
        print(line, skip);
        if (failing) out.note(`${label}: streaming again`);
        failing = false;
        forbidden = 0;
        errors.reset();
        waiting.reset();
      }
      if (!settings.follow) return "finished";
      // The server ended a followed stream: the container exited or the connection was cut.
      const end = await podEnded(api, namespace, pod);
      if (end) return end;
      await sleep(waiting.next(), signal);
    } catch (err) {
      if (signal.aborted) break;
      if (attempt.signal.aborted) {
        await sleep(waiting.next(), signal);
        continue;
      }
      const failure = classifyFailure(err);
      switch (failure) {
        case "empty":
          if (!settings.follow) return "finished";
          await sleep(waiting.next(), signal);
          break;
        case "forbidden":
          if (++forbidden < FORBIDDEN_ATTEMPTS) {
            await sleep(errors.next(), signal);
            break;
          }
          out.note(`${label}: access to its log was removed (Forbidden); stopped reading it`);
          return "forbidden";
        case "gone":
          // A StatefulSet's pod comes back under the same name: wait while the name is granted.
          if (!settings.follow) return "gone";
          await sleep(waiting.next(), signal);
          break;
        case "unavailable":
          out.note(`${label}: ${reason(err)}`);
          return "unavailable";
        case "not-started":
          if (!settings.follow) {
            out.note(`${label}: the container has not started yet`);
            return "unavailable";
          }
          await sleep(waiting.next(), signal);
          break;
        case "retry":
          if (!settings.follow && attempts >= ATTEMPTS_WITHOUT_FOLLOW) {
            out.note(`${label}: ${reason(err)}; gave up after ${attempts} attempts`);
            return "failed";
          }
          if (!failing) out.note(`${label}: ${reason(err)}; retrying with backoff`);
          failing = true;
          await sleep(errors.next(), signal);
          break;
      }
    } finally {
      attempt.abort();
      await check;
    }
  }
  return "stopped";
}

/**
 * How many Forbidden answers in a row are believed. The apiserver's authorizer reads RBAC objects
 * from a cache, so for a moment after a pod joins a Role its log can still be refused.
 */
export const FORBIDDEN_ATTEMPTS = 3;

/** How often a followed pod is read again, to notice it was deleted or replaced. */
export const POD_CHECK_MS = 5000;

/** Aborts `attempt` once the pod is deleted or another pod holds its name; returns when `attempt` ends. */
async function checkPod(api: KubeApi, namespace: string, pod: string, attempt: AbortController): Promise<void> {
  let uid: string | undefined;
  while (!attempt.signal.aborted) {
    try {
      const current = ((await api.get(Pods, namespace, pod)) as V1Pod).metadata?.uid;
      uid ??= current;
      if (current !== uid) attempt.abort();
    } catch (err) {
      // Other failures tell nothing about the pod; the log request meets them too.
      if (classifyFailure(err) === "gone") attempt.abort();
    }
    await sleep(POD_CHECK_MS, attempt.signal);
  }
}

/** After a followed stream ended: "finished" when the pod ran to completion, else undefined (reopen). */
async function podEnded(api: KubeApi, namespace: string, pod: string): Promise<StreamEnd | undefined> {
  try {
    const phase = ((await api.get(Pods, namespace, pod)) as V1Pod).status?.phase;
    return phase === "Succeeded" || phase === "Failed" ? "finished" : undefined;
  } catch {
    // Deleted, refused or failing: the next log request meets the same answer and handles it.
    return undefined;
  }
}

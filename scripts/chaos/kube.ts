// API helpers for the harness: every call is retried through an apiserver restart, and what is
// left after the retries is returned as an outcome the caller counts.
import type { KubeApi, KubeObject } from "../../src/kube/api.ts";
import type { ResourceType } from "../../src/kube/resources.ts";
import { ApiError, NetworkError } from "../../src/kube/transport.ts";
import { isRefusalText } from "./refusals.ts";

/**
 * Worth trying again: no answer at all, the apiserver (re)starting, or throttling; never a refusal of the chaos webhook, whatever its code.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (err instanceof ApiError) return (err.status === 429 || err.status >= 500) && !isRefusalText(err.message);
  return false;
}

export const statusOf = (err: unknown): number | undefined => (err instanceof ApiError ? err.status : undefined);

/** Runs `fn`, retrying transient failures with backoff for up to `budgetMs`. */
export async function retrying<T>(fn: () => Promise<T>, budgetMs = 60_000): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let wait = 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || Date.now() + wait > deadline) throw err;
      await Bun.sleep(wait);
      wait = Math.min(wait * 2, 5_000);
    }
  }
}

/** The field manager of everything the harness writes (never podlogreader's). */
export const CHAOS_FIELD_MANAGER = "chaos";

export function mergePatch(api: KubeApi, rt: ResourceType, namespace: string, name: string, body: object): Promise<unknown> {
  return retrying(() => api.mergePatch(rt, namespace, name, body, { fieldManager: CHAOS_FIELD_MANAGER }));
}

/** Deletes with the given propagation; pods go at once, as every pod the harness makes has a grace period of 0. */
export async function remove(
  api: KubeApi,
  rt: ResourceType,
  namespace: string,
  name: string,
  propagationPolicy: "Background" | "Orphan" = "Background",
): Promise<void> {
  await retrying(() => api.delete(rt, namespace, name, undefined, propagationPolicy));
}

export function getObject<T>(api: KubeApi, rt: ResourceType, namespace: string, name: string): Promise<T> {
  return retrying(async () => (await api.get(rt, namespace, name)) as T);
}

export async function listObjects<T>(api: KubeApi, rt: ResourceType, namespace: string): Promise<T[]> {
  return retrying(async () => (await api.list(rt, { namespace })).items as T[]);
}

/** Creates the object and returns the apiserver's answer as JSON text, every field in the order it was sent. */
export async function createRaw<B extends KubeObject>(
  api: KubeApi,
  rt: ResourceType,
  namespace: string | undefined,
  body: B,
): Promise<string> {
  return JSON.stringify(await retrying(() => api.create(rt, namespace, body, CHAOS_FIELD_MANAGER)));
}

/** The object as the apiserver serialises it now, as JSON text like createRaw's; undefined when it is gone. */
export async function getRaw(api: KubeApi, rt: ResourceType, namespace: string, name: string): Promise<string | undefined> {
  try {
    return JSON.stringify(await retrying(() => api.get(rt, namespace, name)));
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Creates the object as field manager "chaos" (never as podlogreader). */
export async function create<B extends KubeObject>(
  api: KubeApi,
  rt: ResourceType,
  namespace: string | undefined,
  body: B,
): Promise<unknown> {
  return retrying(() => api.create(rt, namespace, body, CHAOS_FIELD_MANAGER));
}

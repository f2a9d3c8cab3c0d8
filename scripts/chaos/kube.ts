// API helpers for the harness: every call is retried through an apiserver restart, and what is
// left after the retries is returned as an outcome the caller counts.
import type { KubeApi } from "../../src/kube/api.ts";
import { collectionPath, objectPath, type ResourceType } from "../../src/kube/resources.ts";
import { ApiError, NetworkError } from "../../src/kube/transport.ts";

/** Worth trying again: no answer at all, the apiserver (re)starting, or throttling. */
export function isTransient(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (err instanceof ApiError) return err.status === 429 || err.status >= 500;
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

export function mergePatch(api: KubeApi, rt: ResourceType, namespace: string, name: string, body: object): Promise<unknown> {
  return retrying(() => api.transport.json({ method: "PATCH", path: objectPath(rt, namespace, name), contentType: "application/merge-patch+json", body }));
}

export async function remove(api: KubeApi, rt: ResourceType, namespace: string, name: string, propagationPolicy: "Background" | "Orphan" = "Background"): Promise<void> {
  await retrying(() => api.transport.request({
    method: "DELETE", path: objectPath(rt, namespace, name),
    body: { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy, gracePeriodSeconds: rt.kind === "Pod" ? 0 : undefined },
  }));
}

export function getObject<T>(api: KubeApi, rt: ResourceType, namespace: string, name: string): Promise<T> {
  return retrying(async () => (await api.get(rt, namespace, name)) as T);
}

export async function listObjects<T>(api: KubeApi, rt: ResourceType, namespace: string): Promise<T[]> {
  return retrying(async () => (await api.list(rt, { namespace })).items as T[]);
}

/** Creates the object and returns the apiserver's answer as it was sent, byte for byte. */
export async function createRaw(api: KubeApi, rt: ResourceType, namespace: string, body: object): Promise<string> {
  return retrying(async () => (await api.transport.request({ method: "POST", path: collectionPath(rt, namespace), query: { fieldManager: "chaos" }, body })).text());
}

/** The object as the apiserver serialises it now, byte for byte; undefined when it is gone. */
export async function getRaw(api: KubeApi, rt: ResourceType, namespace: string, name: string): Promise<string | undefined> {
  try {
    return await retrying(async () => (await api.transport.request({ path: objectPath(rt, namespace, name) })).text());
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Creates the object as field manager "chaos" (never as podlogreader). */
export async function create<T>(api: KubeApi, rt: ResourceType, namespace: string, body: object): Promise<T> {
  return JSON.parse(await createRaw(api, rt, namespace, body)) as T;
}

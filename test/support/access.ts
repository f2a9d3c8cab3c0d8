// Questions to the apiserver's own authorizer (SubjectAccessReview), asked as admin on behalf
// of a ServiceAccount. Reading a Role back proves nothing; this is what RBAC actually decides.
import { serviceAccountCan } from "../../src/kube/access-review.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { Pods } from "../../src/kube/resources.ts";
import { ApiError } from "../../src/kube/transport.ts";

export { serviceAccountCan } from "../../src/kube/access-review.ts";

export function canReadLog(api: KubeApi, namespace: string, serviceAccount: string, pod: string): Promise<boolean> {
  return serviceAccountCan(api, namespace, serviceAccount, { verb: "get", resource: "pods", subresource: "log", name: pod });
}

/** Every pod in the namespace, and every name in `alsoAsk`, whose log the ServiceAccount may read, sorted. */
export async function readablePods(api: KubeApi, namespace: string, serviceAccount: string, alsoAsk: string[] = []): Promise<string[]> {
  const { items } = await api.list(Pods, { namespace, metadataOnly: true });
  const names = [...new Set([...items.map((p) => (p as { metadata: { name: string } }).metadata.name), ...alsoAsk])];
  const allowed = await Promise.all(names.map((n) => canReadLog(api, namespace, serviceAccount, n)));
  return names.filter((_, i) => allowed[i]).sort();
}

/** A name no pod has: readable only if some rule grants every pod (an empty resourceNames). */
export function canReadAnyPod(api: KubeApi, namespace: string, serviceAccount: string): Promise<boolean> {
  return canReadLog(api, namespace, serviceAccount, `no-such-pod-${Math.random().toString(36).slice(2)}`);
}

/** The HTTP status of GET pods/<pod>/log as the identity `api` authenticates with (200 when it was allowed). */
export async function logStatus(api: KubeApi, namespace: string, pod: string): Promise<number> {
  try {
    const body = await api.stream(Pods, namespace, pod, "log", {});
    await body.cancel();
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
}

// Questions to the apiserver's own authorizer (SubjectAccessReview), asked as admin on behalf
// of a ServiceAccount. Reading a Role back proves nothing; this is what RBAC actually decides.
import type { KubeApi } from "../../src/kube/api.ts";
import { Pods } from "../../src/kube/resources.ts";

export interface Access {
  verb: string;
  resource: string;
  subresource?: string;
  name?: string;
  group?: string;
}

export async function serviceAccountCan(api: KubeApi, namespace: string, serviceAccount: string, access: Access): Promise<boolean> {
  const review = (await api.transport.json({
    method: "POST",
    path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: `system:serviceaccount:${namespace}:${serviceAccount}`,
        groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
        resourceAttributes: { namespace, ...access },
      },
    },
  })) as { status?: { allowed?: boolean } };
  return review.status?.allowed === true;
}

export function canReadLog(api: KubeApi, namespace: string, serviceAccount: string, pod: string): Promise<boolean> {
  return serviceAccountCan(api, namespace, serviceAccount, { verb: "get", resource: "pods", subresource: "log", name: pod });
}

/** Every pod in the namespace whose log the ServiceAccount may read, sorted. */
export async function readablePods(api: KubeApi, namespace: string, serviceAccount: string): Promise<string[]> {
  const { items } = await api.list(Pods, { namespace, metadataOnly: true });
  const names = items.map((p) => (p as { metadata: { name: string } }).metadata.name);
  const allowed = await Promise.all(names.map((n) => canReadLog(api, namespace, serviceAccount, n)));
  return names.filter((_, i) => allowed[i]).sort();
}

/** A name no pod has: readable only if some rule grants every pod (an empty resourceNames). */
export function canReadAnyPod(api: KubeApi, namespace: string, serviceAccount: string): Promise<boolean> {
  return canReadLog(api, namespace, serviceAccount, `no-such-pod-${Math.random().toString(36).slice(2)}`);
}

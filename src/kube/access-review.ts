import type { KubeApi } from "./api.ts";
import { SubjectAccessReviews } from "./resources.ts";

export interface ResourceAttributes {
  verb: string;
  resource: string;
  subresource?: string;
  name?: string;
  group?: string;
}

/** Asks the apiserver's authorizer (SubjectAccessReview) whether a ServiceAccount may do something in its namespace. */
export async function serviceAccountCan(api: KubeApi, namespace: string, serviceAccount: string, attributes: ResourceAttributes): Promise<boolean> {
  const review = (await api.review(SubjectAccessReviews, {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: `system:serviceaccount:${namespace}:${serviceAccount}`,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
      resourceAttributes: { namespace, ...attributes },
    },
  })) as { status?: { allowed?: boolean } };
  return review.status?.allowed === true;
}

import type { KubeApi } from "./api.ts";
import { SubjectAccessReviews } from "./resources.ts";

export interface ResourceAttributes {
  verb: string;
  resource: string;
  subresource?: string;
  name?: string;
  group?: string;
  /** Where the request is made; "" asks about every namespace at once, or a cluster-scoped resource. */
  namespace?: string;
  /** The label selector of a list or watch (KEP-4601), as requirements: the authorizers see it. */
  labelSelector?: { requirements: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[] };
}

/**
 * Asks the apiserver's authorizer (SubjectAccessReview) whether a ServiceAccount may do something,
 * as a token of that ServiceAccount would be judged: its user name and the groups every
 * ServiceAccount token carries. The request is in the ServiceAccount's namespace unless
 * `attributes.namespace` says otherwise.
 */
export async function serviceAccountCan(
  api: KubeApi,
  namespace: string,
  serviceAccount: string,
  attributes: ResourceAttributes,
): Promise<boolean> {
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

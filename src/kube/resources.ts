/** The API resources podlogreader reads or writes, and their REST paths. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

const core = (plural: string, kind: string): ResourceType => ({ group: "", version: "v1", plural, kind });

export const Pods = core("pods", "Pod");
export const ServiceAccounts = core("serviceaccounts", "ServiceAccount");
export const Events = core("events", "Event");
export const Namespaces = core("namespaces", "Namespace");
export const Deployments: ResourceType = { group: "apps", version: "v1", plural: "deployments", kind: "Deployment" };
export const ReplicaSets: ResourceType = { group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet" };
const rbac = (plural: string, kind: string): ResourceType => ({ group: "rbac.authorization.k8s.io", version: "v1", plural, kind });
export const Roles = rbac("roles", "Role");
export const RoleBindings = rbac("rolebindings", "RoleBinding");
export const ClusterRoles = rbac("clusterroles", "ClusterRole");
export const ClusterRoleBindings = rbac("clusterrolebindings", "ClusterRoleBinding");
export const Nodes = core("nodes", "Node");
export const Secrets = core("secrets", "Secret");
export const Leases: ResourceType = { group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease" };
export const SubjectAccessReviews: ResourceType = { group: "authorization.k8s.io", version: "v1", plural: "subjectaccessreviews", kind: "SubjectAccessReview" };
export const SelfSubjectAccessReviews: ResourceType = { group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview" };
export const ValidatingAdmissionPolicies: ResourceType = { group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicies", kind: "ValidatingAdmissionPolicy" };
export const ValidatingAdmissionPolicyBindings: ResourceType = { group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicybindings", kind: "ValidatingAdmissionPolicyBinding" };

/** The collection path, namespaced when `namespace` is given, cluster-wide otherwise. */
export function collectionPath(rt: ResourceType, namespace?: string): string {
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${rt.plural}` : `${base}/${rt.plural}`;
}

export function objectPath(rt: ResourceType, namespace: string | undefined, name: string, subresource?: string): string {
  return `${collectionPath(rt, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}`;
}

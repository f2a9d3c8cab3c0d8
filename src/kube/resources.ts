/** The API resources podlogreader reads or writes, and their REST paths. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** Resources of one API group and version. */
type Group = (plural: string, kind: string) => ResourceType;
const inGroup =
  (group: string, version = "v1"): Group =>
  (plural, kind) => ({ group, version, plural, kind });

const core: Group = inGroup("");
export const Pods = core("pods", "Pod");
export const ServiceAccounts = core("serviceaccounts", "ServiceAccount");
export const Events = core("events", "Event");
export const Namespaces = core("namespaces", "Namespace");
export const Leases = inGroup("coordination.k8s.io")("leases", "Lease");
export const Nodes = core("nodes", "Node");
export const Secrets = core("secrets", "Secret");

const rbac: Group = inGroup("rbac.authorization.k8s.io");
export const Roles = rbac("roles", "Role");
export const RoleBindings = rbac("rolebindings", "RoleBinding");
export const ClusterRoles = rbac("clusterroles", "ClusterRole");
export const ClusterRoleBindings = rbac("clusterrolebindings", "ClusterRoleBinding");

const apps: Group = inGroup("apps");
export const Deployments = apps("deployments", "Deployment");
export const ReplicaSets = apps("replicasets", "ReplicaSet");

const authorization: Group = inGroup("authorization.k8s.io");
export const SubjectAccessReviews = authorization("subjectaccessreviews", "SubjectAccessReview");
export const SelfSubjectAccessReviews = authorization("selfsubjectaccessreviews", "SelfSubjectAccessReview");
export const SelfSubjectReviews = inGroup("authentication.k8s.io")("selfsubjectreviews", "SelfSubjectReview");

const admission: Group = inGroup("admissionregistration.k8s.io");
export const ValidatingAdmissionPolicies = admission("validatingadmissionpolicies", "ValidatingAdmissionPolicy");
export const ValidatingAdmissionPolicyBindings = admission("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding");

/** The collection path, namespaced when `namespace` is given, cluster-wide otherwise. */
export function collectionPath(rt: ResourceType, namespace?: string): string {
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${rt.plural}` : `${base}/${rt.plural}`;
}

export function objectPath(rt: ResourceType, namespace: string | undefined, name: string, subresource?: string): string {
  return `${collectionPath(rt, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}`;
}

// Kubernetes' rules for names (k8s.io/apimachinery/pkg/util/validation), written once.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A namespace's name, and a ServiceAccount namespace: a DNS-1123 label. */
export function isNamespaceName(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** Most objects' names (workloads, Roles, ServiceAccounts, Leases): a DNS-1123 subdomain. */
export function isObjectName(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export const NAMESPACE_RULE = "a valid namespace name (lowercase letters, digits and '-', at most 63)";
export const OBJECT_NAME_RULE = "a valid object name (lowercase letters, digits, '-' and '.', at most 253)";

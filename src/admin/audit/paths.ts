// The permissions other than a workload's own pod logs that reach log content, or power over other
// identities or over RBAC itself. A managed ServiceAccount must hold none of them.

export interface OtherPath {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** Cluster-scoped resources are asked about only without a namespace. */
  clusterScoped?: boolean;
  /** The names it may hold this on: its workload's pods for pod subresources, itself for tokens. */
  ownNames?: "workload-pods" | "itself";
}

const podSub = (subresource: string, verb: string): OtherPath => ({ verb, group: "", resource: "pods", subresource, ownNames: "workload-pods" });

export const OTHER_PATHS: readonly OtherPath[] = [
  // The kubelet's API through the apiserver: logs, exec and more of every pod on a node.
  { verb: "get", group: "", resource: "nodes", subresource: "proxy", clusterScoped: true },
  { verb: "create", group: "", resource: "nodes", subresource: "proxy", clusterScoped: true },
  { verb: "get", group: "", resource: "nodes", subresource: "log", clusterScoped: true },
  // Into other pods; kubectl's WebSocket streams ask with GET, SPDY with POST.
  podSub("exec", "create"), podSub("exec", "get"),
  podSub("attach", "create"), podSub("attach", "get"),
  podSub("portforward", "create"), podSub("portforward", "get"),
  // Becoming someone else.
  { verb: "impersonate", group: "", resource: "users", clusterScoped: true },
  { verb: "impersonate", group: "", resource: "groups", clusterScoped: true },
  { verb: "impersonate", group: "", resource: "serviceaccounts" },
  { verb: "impersonate", group: "authentication.k8s.io", resource: "userextras", clusterScoped: true },
  { verb: "impersonate", group: "authentication.k8s.io", resource: "uids", clusterScoped: true },
  { verb: "create", group: "", resource: "serviceaccounts", subresource: "token", ownNames: "itself" },
  // Secrets hold other identities' tokens and credentials.
  { verb: "get", group: "", resource: "secrets" },
  { verb: "list", group: "", resource: "secrets" },
  { verb: "watch", group: "", resource: "secrets" },
  // Granting itself anything.
  { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "roles" },
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "roles" },
  { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles", clusterScoped: true },
  // Binding a ClusterRole in a namespace is checked in that namespace.
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
];

/** How kubectl would name the permission: `create pods/exec`, `impersonate users`. */
export function permissionText(p: { verb: string; group: string; resource: string; subresource?: string }): string {
  const resource = `${p.resource}${p.subresource ? `/${p.subresource}` : ""}`;
  return `${p.verb} ${p.group ? `${resource}.${p.group}` : resource}`;
}

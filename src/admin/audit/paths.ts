// The permissions other than a workload's own pod logs that reach log content, act as another
// identity, or give power over RBAC itself. A managed ServiceAccount must hold none of them. Whether
// it holds one is asked of the authorizer; this module only decides what to ask.
import { namedInRules, type RbacState, type Request, type ServiceAccountRef } from "./rbac.ts";

/**
 * - logs: reads log content by another way than `get pods/log` (the kubelet's API);
 * - identity: runs code as, or takes the credentials of, another identity. Whoever can create a pod
 *   (or a workload that makes pods) can set its `serviceAccountName` and host mounts; whoever can
 *   change one, exec into it or add a container to it acts as its ServiceAccount;
 * - rbac: grants itself anything.
 */
export type PathReach = "logs" | "identity" | "rbac";

export interface OtherPath {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  reaches: PathReach;
  /** Cluster-scoped resources are asked about only without a namespace. */
  clusterScoped?: boolean;
  /** Held on its own name only, it is no other path (a token for itself). */
  itselfAllowed?: boolean;
}

const identity = (verb: string, group: string, resource: string, subresource?: string, extra: Partial<OtherPath> = {}): OtherPath => ({
  verb,
  group,
  resource,
  ...(subresource ? { subresource } : {}),
  reaches: "identity",
  ...extra,
});

/** Kinds whose objects make pods from a template: creating or changing one runs a pod of its choosing. */
export const WORKLOAD_RESOURCES: readonly { group: string; resource: string }[] = [
  { group: "", resource: "pods" },
  { group: "", resource: "replicationcontrollers" },
  { group: "apps", resource: "deployments" },
  { group: "apps", resource: "replicasets" },
  { group: "apps", resource: "statefulsets" },
  { group: "apps", resource: "daemonsets" },
  { group: "batch", resource: "jobs" },
  { group: "batch", resource: "cronjobs" },
];

const AUTHN = "authentication.k8s.io";

export const OTHER_PATHS: readonly OtherPath[] = [
  // The kubelet's API through the apiserver: logs, exec and more of every pod on a node.
  { verb: "get", group: "", resource: "nodes", subresource: "proxy", reaches: "logs", clusterScoped: true },
  { verb: "create", group: "", resource: "nodes", subresource: "proxy", reaches: "logs", clusterScoped: true },
  { verb: "get", group: "", resource: "nodes", subresource: "log", reaches: "logs", clusterScoped: true },
  // A pod of its own choosing, or a change to one that runs, as any ServiceAccount of the namespace.
  ...WORKLOAD_RESOURCES.flatMap(({ group, resource }) => ["create", "update", "patch"].map((verb) => identity(verb, group, resource))),
  identity("update", "", "pods", "ephemeralcontainers"),
  identity("patch", "", "pods", "ephemeralcontainers"),
  // Into running pods, as their ServiceAccount; kubectl's WebSocket streams are authorized as get, SPDY as create.
  ...["exec", "attach", "portforward"].flatMap((sub) => [identity("create", "", "pods", sub), identity("get", "", "pods", sub)]),
  // Impersonation, as it always was (`impersonate`) and constrained (KEP-5284, on by default since 1.36).
  identity("impersonate", "", "users", undefined, { clusterScoped: true }),
  identity("impersonate", "", "groups", undefined, { clusterScoped: true }),
  identity("impersonate", "", "serviceaccounts"),
  identity("impersonate", AUTHN, "userextras", undefined, { clusterScoped: true }),
  identity("impersonate", AUTHN, "uids", undefined, { clusterScoped: true }),
  ...["users", "groups", "uids", "userextras"].map((r) => identity("impersonate:user-info", AUTHN, r, undefined, { clusterScoped: true })),
  identity("impersonate:serviceaccount", AUTHN, "serviceaccounts"),
  identity("impersonate:arbitrary-node", AUTHN, "nodes", undefined, { clusterScoped: true }),
  identity("impersonate:associated-node", AUTHN, "nodes", undefined, { clusterScoped: true }),
  // Approving a certificate signing request: a client certificate for any user and groups.
  identity("update", "certificates.k8s.io", "certificatesigningrequests", "approval", { clusterScoped: true }),
  identity("approve", "certificates.k8s.io", "signers", undefined, { clusterScoped: true }),
  // Tokens of other ServiceAccounts; secrets hold other identities' tokens and credentials.
  identity("create", "", "serviceaccounts", "token", { itselfAllowed: true }),
  identity("get", "", "secrets"),
  identity("list", "", "secrets"),
  identity("watch", "", "secrets"),
  // Granting itself anything.
  { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "roles", reaches: "rbac" },
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "roles", reaches: "rbac" },
  { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles", reaches: "rbac", clusterScoped: true },
  // Binding a ClusterRole in a namespace is checked in that namespace.
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", reaches: "rbac" },
];

export interface PathRequest {
  path: OtherPath;
  req: Request;
}

/**
 * What to ask the authorizer about one ServiceAccount: every path in every scope ("" for all
 * namespaces and cluster-scoped resources), without a name (caught by any rule without
 * resourceNames, wildcards included), and with each name a bound rule singles out (but for its own
 * name on a path it may hold on itself, and for creates, which name nothing).
 */
export function otherPathRequests(rbac: RbacState, sa: ServiceAccountRef, scopes: readonly string[]): PathRequest[] {
  const out: PathRequest[] = [];
  for (const scope of scopes) {
    for (const path of OTHER_PATHS) {
      if (path.clusterScoped && scope) continue;
      const unnamed: Request = {
        namespace: scope,
        verb: path.verb,
        group: path.group,
        resource: path.resource,
        ...(path.subresource ? { subresource: path.subresource } : {}),
      };
      const itself = (n: string) => !!path.itselfAllowed && scope === sa.namespace && n === sa.name;
      out.push({ path, req: unnamed });
      // A create of an object carries no name (RBAC docs: create cannot be restricted by resourceNames).
      if (path.verb === "create" && !path.subresource) continue;
      for (const name of namedInRules(rbac, sa, unnamed)) if (!itself(name)) out.push({ path, req: { ...unnamed, name } });
    }
  }
  return out;
}

/** How kubectl would name the permission: `create pods/exec`, `impersonate users`, `create deployments.apps`. */
export function permissionText(p: { verb: string; group: string; resource: string; subresource?: string }): string {
  const resource = `${p.resource}${p.subresource ? `/${p.subresource}` : ""}`;
  return `${p.verb} ${p.group ? `${resource}.${p.group}` : resource}`;
}

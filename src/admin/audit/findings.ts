// What the audit reports: one finding per thing wrong, each with a stable kind for machines and a
// sentence for people.

/**
 * - stale-name: a managed Role names a pod that does not exist (a live grant should the name come back).
 * - foreign-member: a managed Role names, or the ServiceAccount can read, a pod outside its workload.
 * - namespace-wide: it can read the logs of every pod in its namespace.
 * - cross-namespace: it can read pod logs in another namespace.
 * - cluster-wide: it can read pod logs in every namespace.
 * - other-identity: it can act as another identity: create or change pods or workloads (which run as any
 *   ServiceAccount of the namespace), exec, attach, port-forward, ephemeral containers, impersonation,
 *   tokens of other ServiceAccounts, secrets, approving certificate signing requests.
 * - other-path: it holds another way to reach logs, or power over RBAC (nodes/proxy, escalate, bind).
 * - pod-list: it can list pods beyond its workload's: every pod of its namespace, or those a selector
 *   that is not its workload's matches (the pod objects, and with a Role that names no pod, the
 *   webhook's say over which pods it may read).
 * - missing-name: a pod of its workload is not in its Role, or not readable (yet): an under-grant,
 *   reported but not failed.
 * - expired-grant: a grant past its expiry is still there: the controller is down or was refused.
 * - misdirected-grant: a binding with the grant label binds something other than the managed Role of
 *   the workload it names: a ClusterRole, a Role podlogreader did not make for that workload, or a
 *   Role it does not own by reference (the controller never ends it).
 * - unissued-binding: a binding podlogreader did not issue binds people to a managed Role: access
 *   that follows the workload's pods with no expiry, reason or record of who granted it.
 */
export type FindingKind =
  | "stale-name"
  | "foreign-member"
  | "namespace-wide"
  | "cross-namespace"
  | "cluster-wide"
  | "other-identity"
  | "other-path"
  | "pod-list"
  | "missing-name"
  | "expired-grant"
  | "misdirected-grant"
  | "unissued-binding";

export const OVER_GRANT_KINDS: ReadonlySet<FindingKind> = new Set([
  "stale-name",
  "foreign-member",
  "namespace-wide",
  "cross-namespace",
  "cluster-wide",
  "other-identity",
  "other-path",
  "pod-list",
  "expired-grant",
  "misdirected-grant",
  "unissued-binding",
]);

/** What a managed Role grants, as kubectl names it. */
export const LOG_PERMISSION = "get pods/log";

export interface Finding {
  kind: FindingKind;
  /** True for every kind but missing-name: access wider than the workload's logs. */
  overGrant: boolean;
  /**
   * The ServiceAccount's namespace and name, and its workload (`Kind/name`). For a binding to people
   * (the grant kinds and unissued-binding): the binding's namespace, and the workload's managed name
   * and workload (empty and "unknown" when a grant names no workload).
   */
  namespace: string;
  serviceAccount: string;
  workload: string;
  /**
   * The permission, as kubectl names it: `get pods/log`, `create pods/exec`; for a misdirected grant, the role it binds (`ClusterRole
   * view`).
   */
  permission: string;
  /** Where it holds it: a namespace, or "" for every namespace / cluster-scoped. */
  scope: string;
  /** The object it holds it on; absent when it holds it on every object. */
  resourceName?: string;
  /** Seen in the managed Role's own names, allowed by the authorizer, or read from a binding to people. */
  source: "role" | "authorizer" | "binding";
  /** The bindings granting it, as read from the RBAC objects (`RoleBinding ns/name (Role r)`). */
  grantedBy: string[];
  /** Who the binding lets in, as `grant --to` writes them (`user:alice`); bindings to people only. */
  subjects?: string[];
  /** Why a grant is misdirected, or why it has ended (`expired at 2026-12-04T11:00:00Z`); grants only. */
  detail?: string;
  message: string;
}

export function finding(f: Omit<Finding, "overGrant" | "message">): Finding {
  return { ...f, overGrant: OVER_GRANT_KINDS.has(f.kind), message: describe(f) };
}

const people = (f: { subjects?: string[] }) => (f.subjects?.length ? f.subjects.join(", ") : "no subject");

function describe(f: Omit<Finding, "overGrant" | "message">): string {
  const who = `${f.namespace}/${f.serviceAccount}`;
  const where = f.scope ? `in namespace ${f.scope}` : "cluster-wide";
  const on = f.resourceName ? ` on ${f.resourceName}` : "";
  const by = f.grantedBy.length
    ? `, granted by ${f.grantedBy.join(", ")}`
    : f.source === "role" || f.kind === "missing-name"
      ? ""
      : ", granted by no RBAC binding the audit could read";
  switch (f.kind) {
    case "stale-name":
      return `the Role of ${who} names pod ${f.resourceName}, which does not exist: a pod created with that name would be readable`;
    case "foreign-member":
      return f.source === "role"
        ? `the Role of ${who} names pod ${f.resourceName}, which is not ${f.workload}'s`
        : `${who} can read the logs of pod ${f.resourceName}, which is not ${f.workload}'s${by}`;
    case "namespace-wide":
      return `${who} can read the logs of every pod in ${f.scope}${by}`;
    case "cross-namespace":
      return `${who} can read pod logs in namespace ${f.scope}${on}${by}`;
    case "cluster-wide":
      return `${who} can read pod logs in every namespace${on}${by}`;
    case "other-identity":
      return `${who} may ${f.permission}${on} ${where}${by}: it can act as another identity`;
    case "other-path":
      return `${who} may ${f.permission}${on} ${where}${by}`;
    case "pod-list":
      return `${who} may ${f.permission} ${where}, beyond ${f.workload}'s pods${by}`;
    case "missing-name":
      return f.source === "role"
        ? `the Role of ${who} does not name ${f.workload}'s pod ${f.resourceName}`
        : `${who} cannot read the logs of ${f.workload}'s pod ${f.resourceName}`;
    case "expired-grant":
      return (
        `grant ${f.grantedBy.join(", ")} lets ${people(f)} read ${f.workload}'s pod logs, but ${f.detail}: the controller is down or ` +
        `was refused`
      );
    case "misdirected-grant":
      return `grant ${f.grantedBy.join(", ")} of ${people(f)} ${f.detail}`;
    case "unissued-binding":
      return `${f.grantedBy.join(", ")}, not issued by podlogreader, lets ${people(f)} read ${f.workload}'s pod logs, with no expiry`;
  }
}

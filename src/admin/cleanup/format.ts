// How `podlogreader cleanup` names what it did: in kubectl's words, and the permissions it lacks.
import type { ResourceType } from "../../kube/resources.ts";

/** kubectl's `kind.group`, e.g. role.rbac.authorization.k8s.io, or just `serviceaccount`. */
export function kubectlKind(rt: ResourceType): string {
  const kind = rt.kind.toLowerCase();
  return rt.group ? `${kind}.${rt.group}` : kind;
}

/** As `kubectl delete` prints it: `role.rbac.authorization.k8s.io "NAME" deleted from NS namespace`. */
export function deletedLine(rt: ResourceType, namespace: string, name: string, dryRun: boolean): string {
  return `${kubectlKind(rt)} "${name}" deleted from ${namespace} namespace${dryRun ? " (server dry run)" : ""}`;
}

export function leftAloneLine(rt: ResourceType, namespace: string, name: string, why: string): string {
  return `left alone: ${kubectlKind(rt)} ${namespace}/${name}: ${why}`;
}

/** A permission as an RBAC rule would grant it: `delete roles.rbac.authorization.k8s.io in namespace "x"`. */
export function permission(verb: string, rt: ResourceType, scope: { namespace?: string; name?: string }): string {
  const resource = rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
  const named = scope.name ? ` named "${scope.name}"` : "";
  const where = scope.namespace ? ` in namespace "${scope.namespace}"` : " in all namespaces (cluster-wide)";
  return `${verb} ${resource}${named}${where}`;
}

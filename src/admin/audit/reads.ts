// Fresh reads of everything the audit judges: workloads and pods in scope, the managed objects,
// and every RBAC object of the cluster (a binding anywhere may reach a managed ServiceAccount).
import type * as v from "valibot";
import { KINDS, WORKLOAD_KINDS } from "../../access/kinds.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, MANAGED_SELECTOR } from "../../access/marks.ts";
import type { KubeApi } from "../../kube/api.ts";
import { PartialObjectMetadata, parseObject, RoleBinding } from "../../kube/objects.ts";
import { ClusterRoleBindings, ClusterRoles, Pods, RoleBindings, Roles, ServiceAccounts } from "../../kube/resources.ts";
import { membership, type Membership } from "./members.ts";
import { RbacBinding, RbacRole, type RbacState } from "./rbac.ts";
import { retrying } from "../../kube/retry.ts";

export interface AuditInput {
  membership: Membership;
  rbac: RbacState;
  /** ServiceAccounts in scope that carry podlogreader's managed-by label. */
  serviceAccounts: PartialObjectMetadata[];
  /** Roles in scope that carry it, with their rules. */
  managedRoles: { metadata: PartialObjectMetadata["metadata"]; role: RbacRole }[];
  /** For the checks of bindings to people: the Roles in scope (metadata) and RoleBindings in scope, whole. */
  grants: { roles: PartialObjectMetadata[]; roleBindings: RoleBinding[] };
}

const parseAll =
  <S extends v.GenericSchema>(schema: S, what: string) =>
  (l: { items: unknown[] }) =>
    l.items.map((raw) => parseObject(schema, raw, what));

export async function readCluster(kube: KubeApi, namespace?: string): Promise<AuditInput> {
  const api = { list: (...args: Parameters<KubeApi["list"]>) => retrying(() => kube.list(...args)) };
  const [workloads, pods, roles, clusterRoles, roleBindings, clusterRoleBindings, serviceAccounts] = await Promise.all([
    Promise.all(WORKLOAD_KINDS.map(async (kind) => [kind, (await api.list(KINDS[kind].resource, { namespace })).items] as const)),
    api.list(Pods, { namespace, metadataOnly: true }),
    api.list(Roles),
    api.list(ClusterRoles).then(parseAll(RbacRole, "ClusterRole")),
    api.list(RoleBindings),
    api.list(ClusterRoleBindings).then(parseAll(RbacBinding, "ClusterRoleBinding")),
    api
      .list(ServiceAccounts, { namespace, labelSelector: MANAGED_SELECTOR, metadataOnly: true })
      .then(parseAll(PartialObjectMetadata, "ServiceAccount")),
  ]);
  const inScope = (raw: unknown) => !namespace || (raw as { metadata?: { namespace?: string } }).metadata?.namespace === namespace;
  const managedRoles = roles.items
    .filter((raw) => {
      const meta = (raw as { metadata?: { namespace?: string; labels?: Record<string, string> } }).metadata;
      return meta?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && (!namespace || meta.namespace === namespace);
    })
    .map((raw) => ({ metadata: parseObject(PartialObjectMetadata, raw, "Role").metadata, role: parseObject(RbacRole, raw, "Role") }));
  return {
    managedRoles,
    membership: membership(Object.fromEntries(workloads), pods.items),
    rbac: {
      roles: parseAll(RbacRole, "Role")(roles),
      clusterRoles,
      roleBindings: parseAll(RbacBinding, "RoleBinding")(roleBindings),
      clusterRoleBindings,
    },
    serviceAccounts,
    grants: {
      roles: roles.items.filter(inScope).map((raw) => parseObject(PartialObjectMetadata, raw, "Role")),
      roleBindings: roleBindings.items.filter(inScope).map((raw) => parseObject(RoleBinding, raw, "RoleBinding")),
    },
  };
}

// Builders for the objects tests create, and small helpers that read the cluster as admin.
import type { RbacV1Subject, V1Deployment, V1Pod, V1PolicyRule, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import type { KubeApi } from "../../src/kube/api.ts";
import { Deployments, Pods } from "../../src/kube/resources.ts";

export { deployment, OPT_IN } from "../../scripts/harness/workloads.ts";

export async function podsOf(api: KubeApi, namespace: string, selector: string): Promise<V1Pod[]> {
  const { items } = await api.list(Pods, { namespace, labelSelector: selector });
  return items as V1Pod[];
}

export async function getDeployment(api: KubeApi, namespace: string, name: string): Promise<V1Deployment> {
  return (await api.get(Deployments, namespace, name)) as V1Deployment;
}

const RBAC = "rbac.authorization.k8s.io";

/** A Role `name` with these rules. */
export const role = (name: string, rules: V1PolicyRule[]): V1Role => ({
  apiVersion: `${RBAC}/v1`,
  kind: "Role",
  metadata: { name },
  rules,
});

/** A RoleBinding `name` of the Role `roleName` to these subjects. */
export const roleBinding = (name: string, roleName: string, subjects: RbacV1Subject[]): V1RoleBinding => ({
  apiVersion: `${RBAC}/v1`,
  kind: "RoleBinding",
  metadata: { name },
  roleRef: { apiGroup: RBAC, kind: "Role", name: roleName },
  subjects,
});

/** A user, as a binding names them. */
export const userSubject = (name: string): RbacV1Subject => ({ kind: "User", apiGroup: RBAC, name });

/** A ServiceAccount, as a binding names it. */
export const serviceAccountSubject = (namespace: string, name: string): RbacV1Subject => ({ kind: "ServiceAccount", name, namespace });

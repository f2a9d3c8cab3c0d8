// Builders for the objects tests create, and small helpers that read the cluster as admin.
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "../../src/kube/api.ts";
import { Deployments, Pods } from "../../src/kube/resources.ts";

export { deployment, OPT_IN } from "../../scripts/lib/workloads.ts";

export async function podsOf(api: KubeApi, namespace: string, selector: string): Promise<V1Pod[]> {
  const { items } = await api.list(Pods, { namespace, labelSelector: selector });
  return items as V1Pod[];
}

export async function getDeployment(api: KubeApi, namespace: string, name: string): Promise<V1Deployment> {
  return (await api.get(Deployments, namespace, name)) as V1Deployment;
}

// Builders for the objects tests create, and small helpers that read the cluster as admin.
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "../../src/kube/api.ts";
import { Deployments, Pods } from "../../src/kube/resources.ts";

export const OPT_IN = { "podlogreader-affiliate": "enable" };

export function deployment(namespace: string, name: string, opts: { replicas?: number; templateLabels?: Record<string, string> } = {}): V1Deployment {
  const app = { app: name.slice(0, 63) };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: app },
      // Pods never become ready without nodes; let rollouts replace them all at once anyway.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: "100%" } },
      template: {
        metadata: { labels: { ...app, ...opts.templateLabels } },
        spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
      },
    },
  };
}

export async function podsOf(api: KubeApi, namespace: string, selector: string): Promise<V1Pod[]> {
  const { items } = await api.list(Pods, { namespace, labelSelector: selector });
  return items as V1Pod[];
}

export async function getDeployment(api: KubeApi, namespace: string, name: string): Promise<V1Deployment> {
  return (await api.get(Deployments, namespace, name)) as V1Deployment;
}

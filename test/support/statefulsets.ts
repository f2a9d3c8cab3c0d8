// StatefulSets as an admin makes them: their pods keep their names (`<name>-0`, `<name>-1`), so a
// name a Role still carries can come back as someone else's pod.
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { KINDS } from "../../src/access/kinds.ts";
import { Pods } from "../../src/kube/resources.ts";
import { eventually, TEST_FIELD_MANAGER, testCluster } from "./cluster.ts";
import { OPT_IN } from "./fixtures.ts";

const StatefulSets = KINDS.StatefulSet.resource;

/** A StatefulSet whose pods are labelled `app=<app>` (default `sts-<name>`), opted in unless `optIn` is false. */
export async function createStatefulSet(
  namespace: string,
  name: string,
  opts: { replicas: number; optIn?: boolean; app?: string },
): Promise<V1StatefulSet> {
  const { admin } = await testCluster();
  const app = opts.app ?? `sts-${name}`;
  const body: V1StatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace },
    spec: {
      replicas: opts.replicas,
      serviceName: name,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app, ...(opts.optIn === false ? {} : OPT_IN) } },
        spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
      },
    },
  };
  return (await admin.create(StatefulSets, namespace, body)) as V1StatefulSet;
}

export async function scaleStatefulSet(namespace: string, name: string, replicas: number): Promise<void> {
  const { admin } = await testCluster();
  await admin.mergePatch(StatefulSets, namespace, name, { spec: { replicas } }, { fieldManager: TEST_FIELD_MANAGER });
}

/** Waits until exactly the pods labelled `app=<app>` are `count` and none is being deleted, and returns their names. */
export async function waitForAppPods(namespace: string, app: string, count: number): Promise<string[]> {
  const { admin } = await testCluster();
  return eventually(`${count} pods app=${app} in ${namespace}`, async () => {
    const pods = (await admin.list(Pods, { namespace, labelSelector: `app=${app}` })).items as V1Pod[];
    return pods.length === count && pods.every((p) => !p.metadata?.deletionTimestamp)
      ? pods.map((p) => p.metadata!.name!).sort()
      : undefined;
  });
}

// Acting on Deployments as an admin would, and waiting for what the authorizer then says.
import { expect } from "bun:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { Deployments } from "../../src/kube/resources.ts";
import { readablePods, canReadAnyPod } from "./access.ts";
import { eventually, TEST_FIELD_MANAGER, testCluster } from "./cluster.ts";
import { deployment, OPT_IN, podsOf } from "./fixtures.ts";

export async function createDeployment(
  namespace: string,
  name: string,
  opts: { replicas?: number; optIn?: boolean; templateLabels?: Record<string, string>; paused?: boolean } = {},
): Promise<V1Deployment> {
  const { admin } = await testCluster();
  const templateLabels = { ...(opts.optIn === false ? {} : OPT_IN), ...opts.templateLabels };
  const d = deployment(namespace, name, { replicas: opts.replicas, templateLabels });
  if (opts.paused) d.spec = { ...d.spec!, paused: true };
  return (await admin.create(Deployments, namespace, d)) as V1Deployment;
}

export async function patchDeployment(namespace: string, name: string, patch: object): Promise<void> {
  const { admin } = await testCluster();
  await admin.mergePatch(Deployments, namespace, name, patch, { fieldManager: TEST_FIELD_MANAGER });
}

export const scale = (namespace: string, name: string, replicas: number) => patchDeployment(namespace, name, { spec: { replicas } });

/** A new pod template, so the Deployment rolls out a new ReplicaSet. */
export const rollout = (namespace: string, name: string) =>
  patchDeployment(namespace, name, { spec: { template: { metadata: { annotations: { "test/rollout": String(Date.now()) } } } } });

/** Waits until exactly `count` pods of the Deployment exist, and returns their names. */
export async function waitForPods(namespace: string, name: string, count: number): Promise<string[]> {
  const { admin } = await testCluster();
  return eventually(`${count} pods of ${namespace}/${name}`, async () => {
    const pods = await podsOf(admin, namespace, `app=${name.slice(0, 63)}`);
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    return live.length === count && pods.length === count ? pods.map((p) => p.metadata!.name!).sort() : undefined;
  });
}

/**
 * Waits until the ServiceAccount can read the logs of exactly `expected` among all pods of the
 * namespace and the names in `gone` (pods deleted by now), and of no unnamed pod, as the
 * authorizer decides it. A deleted pod's name leaves the Role when the controller's watch sees the
 * deletion, which can be after the apiserver stops listing the pod, so it is waited for too.
 */
export async function expectReadable(namespace: string, serviceAccount: string, expected: string[], gone: string[] = []): Promise<void> {
  const { admin } = await testCluster();
  const want = [...expected].sort();
  let last: string[] = [];
  try {
    await eventually(
      `${serviceAccount} to read exactly [${want.join(", ")}]`,
      async () => {
        last = await readablePods(admin, namespace, serviceAccount, gone);
        return JSON.stringify(last) === JSON.stringify(want) ? true : undefined;
      },
      30_000,
    );
  } catch {
    expect(last).toEqual(want);
  }
  expect(await canReadAnyPod(admin, namespace, serviceAccount)).toBe(false);
}

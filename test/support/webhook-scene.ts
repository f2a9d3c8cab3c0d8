// The scene the webhook authorizer's suites start from, on a cluster whose apiserver calls
// podlogreader's webhook: a namespace where a controller serves the webhook, an opted-in
// Deployment `web` of two pods and another, `other`, of one; each pod with a line of its own; and
// a kubeconfig with a real token of web's ServiceAccount, once the apiserver lets it read web's pods.
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControllerOptions } from "../../src/controller/controller.ts";
import { managedName } from "../../src/access/names.ts";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { eventually, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "./cluster.ts";
import { startController, type RunningController } from "./controller.ts";
import { withLogs } from "./pod-logs.ts";
import { createDeployment, expectReadable, waitForPods } from "./workloads.ts";

/** The one line each pod of the scene logs. */
export const lineOf = (pod: string) => `${pod} says hello`;

export interface WebhookScene {
  c: TestCluster;
  ns: string;
  /** A folder of the scene's own for kubeconfigs. */
  dir: string;
  controller: RunningController;
  webPods: string[];
  other: string;
  webKubeconfig: string;
}

export async function webhookScene(prefix: string, options: Partial<ControllerOptions> = {}): Promise<WebhookScene> {
  const c = await testCluster({ authorizer: true });
  const ns = await useNamespace(prefix);
  const dir = mkdtempSync(join(tmpdir(), `podlogreader-${prefix}-`));
  const controller = await startController([ns], { podVisibility: "own", ...options }, { authorizer: true });
  await createDeployment(ns, "web", { replicas: 2 });
  await createDeployment(ns, "other", { replicas: 1 });
  const webPods = await waitForPods(ns, "web", 2);
  const [other] = (await waitForPods(ns, "other", 1)) as [string];
  await withLogs(ns, [...webPods, other], (pod) => [lineOf(pod)]);
  const sa = managedName("Deployment", "web");
  await expectReadable(ns, sa, webPods);
  const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(ns, sa));
  const webKubeconfig = join(dir, "web.kubeconfig");
  writeFileSync(webKubeconfig, kubeconfigYaml(c.server, c.caPem, { token }, ns), { mode: 0o600 });
  return { c, ns, dir, controller, webPods, other, webKubeconfig };
}

/**
 * The scene of a whole test file: made before its first test; after its last, the controller
 * that runs then (a test may replace `controller`) is stopped and the folder removed. Its fields
 * are there from the first test on.
 */
export function useWebhookScene(prefix: string, options: Partial<ControllerOptions> = {}): WebhookScene {
  const scene = {} as WebhookScene;
  beforeAll(async () => {
    Object.assign(scene, await webhookScene(prefix, options));
  });
  afterAll(async () => {
    await scene.controller?.stop();
    if (scene.dir) rmSync(scene.dir, { recursive: true, force: true });
  });
  return scene;
}

// Transient API failures: the controller keeps running through an apiserver restart, its watches
// recover on their own, and what changed meanwhile is corrected.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { restartApiserver } from "../../scripts/harness/controlplane.ts";
import { testCluster, useNamespace } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { createDeployment, expectReadable, scale, waitForPods } from "../support/workloads.ts";

describe("when the apiserver restarts", () => {
  let ns: string;
  let controller: RunningController;

  beforeAll(async () => {
    ns = await useNamespace("restart-apiserver");
    controller = await startController([ns]);
    await createDeployment(ns, "web", { replicas: 1 });
    await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 1));
  });
  afterAll(() => controller.stop());

  test("the controller recovers without being restarted, and follows changes made after", async () => {
    const c = await testCluster();
    await restartApiserver(c);
    await scale(ns, "web", 3);
    await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 3));
    await scale(ns, "web", 1);
    const [left] = await waitForPods(ns, "web", 1);
    await expectReadable(ns, "podlogreader-web", [left!]);
    expect((await controller.liveness()).ok).toBe(true);
  });
});

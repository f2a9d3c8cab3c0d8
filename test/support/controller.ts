// Runs the controller from its TypeScript sources inside the test process, scoped to the
// test's namespaces, against the test cluster.
import { Controller, type ControllerOptions } from "../../src/controller/controller.ts";
import { createLogger } from "../../src/log.ts";
import { controllerChecks, runChecks, type HealthReport } from "../../src/telemetry/health.ts";
import { testCluster } from "./cluster.ts";

export interface RunningController {
  stop(): Promise<void>;
  /** The controller's own liveness answer, as /healthz?verbose gives it. */
  liveness(): Promise<HealthReport>;
}

export async function startController(namespaces: string[], overrides: Partial<ControllerOptions> = {}): Promise<RunningController> {
  const { admin } = await testCluster();
  const options: ControllerOptions = {
    namespaces,
    debounceMs: 200,
    resyncMs: 60_000,
    workers: 4,
    podVisibility: "namespace",
    createServiceAccountAndRoleBinding: true,
    ...overrides,
  };
  const log = createLogger(process.env.PODLOGREADER_TEST_LOG === "debug" ? "debug" : "warn", "text");
  const abort = new AbortController();
  const controller = new Controller(admin, options, log);
  const done = controller.run(abort.signal);
  return {
    liveness: () => runChecks(controllerChecks(controller, abort.signal).liveness, "healthz", true),
    async stop() {
      abort.abort();
      await done;
    },
  };
}

// Runs the controller from its TypeScript sources inside the test process, scoped to the
// test's namespaces, against the test cluster.
import { gatherer, READ_TIMEOUT_MS } from "../../src/authorizer/gather.ts";
import { serveAuthorizer } from "../../src/authorizer/server.ts";
import { Controller, type ControllerOptions } from "../../src/controller/controller.ts";
import type { HttpServer } from "../../src/telemetry/server.ts";
import { createLogger } from "../../src/log.ts";
import { controllerChecks, runChecks, type HealthReport } from "../../src/telemetry/health.ts";
import { testCluster } from "./cluster.ts";

export interface RunningController {
  stop(): Promise<void>;
  /** The controller's own liveness answer, as /healthz?verbose gives it. */
  liveness(): Promise<HealthReport>;
  /** With `authorizer`: the webhook the apiserver calls, which a test may stop on its own. */
  authorizer?: HttpServer;
}

/** `authorizer`: also serve the webhook where the test cluster's apiserver calls it (testCluster({ authorizer: true })). */
export async function startController(
  namespaces: string[],
  overrides: Partial<ControllerOptions> = {},
  serve: { authorizer?: boolean } = {},
): Promise<RunningController> {
  const { admin, authorizer: setup } = await testCluster();
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
  let authorizer: HttpServer | undefined;
  if (serve.authorizer) {
    if (!setup) throw new Error("the test cluster's apiserver does not call an authorizer: use testCluster({ authorizer: true }) first");
    const view = controller.authorizerView();
    authorizer = await serveAuthorizer(
      { host: "127.0.0.1", port: setup.port },
      setup,
      { view, gather: gatherer(admin, view.world, READ_TIMEOUT_MS), ready: () => controller.ready },
      log,
    );
  }
  return {
    authorizer,
    liveness: () => runChecks(controllerChecks(controller, abort.signal).liveness, "healthz", true),
    async stop() {
      await authorizer?.stop();
      abort.abort();
      await done;
    },
  };
}

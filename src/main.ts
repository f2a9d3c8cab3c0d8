import { hostname } from "node:os";
import { helpText, parseOptions, UsageError, type Options } from "./cli/options.ts";
import { Controller } from "./controller/controller.ts";
import { KubeApi } from "./kube/api.ts";
import { loadConnection } from "./kube/config.ts";
import { LeaderElector } from "./kube/lease.ts";
import { waitForServer } from "./kube/server.ts";
import { Transport } from "./kube/transport.ts";
import { createLogger } from "./log.ts";
import { Metrics } from "./telemetry/metrics.ts";
import { controllerChecks } from "./telemetry/health.ts";
import { serveEndpoints } from "./telemetry/server.ts";
import { VERSION } from "./version.ts";
import { isAdminCommand } from "./cli/admin.ts";
import { programName, splitCommand } from "./cli/program.ts";
import { runAdmin } from "./cli/run-admin.ts";
import { runLogs } from "./logs/command.ts";
import { gatherer, READ_TIMEOUT_MS } from "./authorizer/gather.ts";
import { serveAuthorizer } from "./authorizer/server.ts";
import { runAuthorizerConfig } from "./authorizer/command.ts";

/** After SIGTERM, how long in-flight writes may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 20_000;

async function main(argv: string[]): Promise<number> {
  const { command, args } = splitCommand(argv);
  if (isAdminCommand(command)) return runAdmin(command, args);
  if (command === "logs") return runLogs(args);
  if (command === "authorizer-config") return runAuthorizerConfig(args, programName());
  return runController(args);
}

async function runController(argv: string[]): Promise<number> {
  const program = programName();
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${program}: ${err.message}\nRun '${program} --help' for the flags.\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${helpText(program)}\n`);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`podlogreader ${VERSION}\n`);
    return 0;
  }

  const log = createLogger(options.logLevel, options.logFormat);
  for (const deprecation of options.deprecations) log.warn(deprecation);
  if (options.rolePodNames === "none" && !options.authorizerAddr) {
    log.warn("--role-pod-names=none without --authorizer-addr: the Roles name no pod, so no pod is readable unless another podlogreader serves the webhook the apiserver calls");
  }
  const stop = new AbortController();
  let exitCode = 0;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stop.signal.aborted) process.exit(1);
      log.info(`Received ${signal}; shutting down`);
      stop.abort();
      setTimeout(() => {
        log.error(`Shutdown took longer than ${SHUTDOWN_GRACE_MS / 1000}s; exiting`);
        process.exit(1);
      }, SHUTDOWN_GRACE_MS).unref();
    });
  }

  try {
    const connection = loadConnection({ kubeconfig: options.kubeconfig, context: options.context });
    const metrics = new Metrics();
    const api = new KubeApi(new Transport(connection, (method, code, host) => metrics.countRequest(method, code, host)));
    log.info(`podlogreader ${VERSION} connecting to ${connection.server} (${connection.source})`);
    const elector = options.leaderElect
      ? new LeaderElector(api, {
        namespace: options.leaderElectionNamespace ?? connection.namespace ?? "default",
        name: options.leaderElectionId,
        identity: `${hostname()}_${crypto.randomUUID().slice(0, 8)}`,
        leaseDurationMs: options.leaseDurationMs,
        renewDeadlineMs: options.renewDeadlineMs,
        retryPeriodMs: options.retryPeriodMs,
        onLeading: (leading) => metrics.leaderElectionMasterStatus.set({ name: options.leaderElectionId }, leading ? 1 : 0),
      }, log)
      : undefined;
    // With leader election, no write of the controller starts unless the lease is held and fresh.
    const controller = new Controller(elector ? api.withWriteFence(() => elector.assertLeading()) : api, options, log, metrics);
    const servers = serveEndpoints(
      { metrics: options.metricsBindAddress, probes: options.healthProbeBindAddress, combined: options.httpAddr },
      metrics,
      controllerChecks(controller, stop.signal),
      log,
    );

    if (options.authorizerAddr) {
      const tls = { certFile: options.authorizerTlsCertFile!, keyFile: options.authorizerTlsKeyFile!, clientCaFile: options.authorizerClientCaFile! };
      const view = controller.authorizerView();
      const deps = { view, gather: gatherer(api, view.world, READ_TIMEOUT_MS), ready: () => controller.ready, metrics };
      servers.push(await serveAuthorizer(options.authorizerAddr, tls, deps, log.with({ component: "authorizer" })));
    }

    const serverVersion = await waitForServer(api, log, stop.signal);
    if (serverVersion !== undefined) {
      log.info(`Connected to Kubernetes ${serverVersion}`);
      let leadership: Promise<unknown> = Promise.resolve();
      if (elector) {
        leadership = elector.lead(stop.signal, () => {
          // Another replica may be writing now: stop at once and let the process be restarted.
          exitCode = 1;
          stop.abort();
        });
      }
      await controller.run(stop.signal, leadership.then(() => undefined));
      await elector?.release();
    }
    await Promise.all(servers.map((s) => s.stop()));
    log.info("Stopped");
    return exitCode;
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));

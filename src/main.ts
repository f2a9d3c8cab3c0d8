import { helpText, parseOptions, UsageError, type Options } from "./cli/options.ts";
import { Controller } from "./controller/controller.ts";
import { KubeApi } from "./kube/api.ts";
import { loadConnection } from "./kube/config.ts";
import { waitForServer } from "./kube/server.ts";
import { Transport } from "./kube/transport.ts";
import { createLogger } from "./log.ts";
import { VERSION } from "./version.ts";

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`podlogreader: ${err.message}\nRun 'podlogreader --help' for the flags.\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`podlogreader ${VERSION}\n`);
    return 0;
  }

  const log = createLogger(options.logLevel, options.logFormat);
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stop.signal.aborted) process.exit(1);
      log.info(`Received ${signal}`);
      stop.abort();
    });
  }

  try {
    const connection = loadConnection({ kubeconfig: options.kubeconfig });
    const api = new KubeApi(new Transport(connection));
    log.info(`podlogreader ${VERSION} connecting to ${connection.server} (${connection.source})`);
    const serverVersion = await waitForServer(api, log, stop.signal);
    if (serverVersion === undefined) return 0;
    log.info(`Connected to Kubernetes ${serverVersion}`);
    await new Controller(api, { ...options }, log).run(stop.signal);
    log.info("Stopped");
    return 0;
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));

// `podlogreader logs KIND/NAME`: flags in, exit code out.
import { UsageError } from "../cli/flags.ts";
import { KubeApi } from "../kube/api.ts";
import { loadConnection } from "../kube/config.ts";
import { Transport } from "../kube/transport.ts";
import { useColour } from "./format.ts";
import { printWorkloadLogs } from "./follow.ts";
import { logsHelp, parseLogsArgs } from "./options.ts";
import type { Output } from "./stream.ts";

export interface LogsIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** Ends a follow; the command installs SIGINT/SIGTERM handlers when none is given. */
  signal?: AbortSignal;
  /** A ready client instead of one from --kubeconfig (tests pass a ServiceAccount token's). */
  api?: KubeApi;
  /** The namespace when -n is not given and `api` is; otherwise the kubeconfig context's. */
  defaultNamespace?: string;
}

/** Runs `podlogreader logs` with the arguments after `logs`; returns the exit code (0; 1 error; 2 usage; 130 interrupted). */
export async function runLogs(argv: string[], io: LogsIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const fail = (message: string) => io.stderr.write(`podlogreader logs: ${message}\n`);
  let options;
  try {
    options = parseLogsArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    fail(`${err.message}\nRun 'podlogreader logs --help' for the flags.`);
    return 2;
  }
  if ("help" in options) {
    io.stdout.write(`${logsHelp()}\n`);
    return 0;
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (!io.signal) for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, onSignal);
  try {
    let api = io.api;
    let namespace = options.namespace ?? io.defaultNamespace;
    if (!api) {
      const connection = loadConnection({ kubeconfig: options.kubeconfig, context: options.context });
      api = new KubeApi(new Transport(connection));
      namespace ??= connection.namespace;
    }
    const out: Output = {
      line: (text) => io.stdout.write(`${text}\n`),
      note: (text) => io.stderr.write(`${text}\n`),
    };
    const code = await printWorkloadLogs(api, {
      namespace: namespace ?? "default",
      kind: options.kind,
      name: options.name,
      containers: options.container !== undefined ? { container: options.container } : options.allContainers ? { all: true } : { default: true },
      follow: options.follow,
      sinceSeconds: options.sinceSeconds,
      tailLines: options.tailLines,
      timestamps: options.timestamps,
      previous: options.previous,
      colour: useColour(io.stdout.isTTY, io.env),
    }, out, io.signal ? AbortSignal.any([io.signal, stop.signal]) : stop.signal);
    // Interrupted by SIGINT or SIGTERM: the shell's convention for a command ended by a signal.
    return stop.signal.aborted ? 130 : code;
  } catch (err) {
    // LogsError, ConfigError, TLS and network failures: one line for the person who ran it.
    fail(err instanceof Error ? err.message : String(err));
    return 1;
  } finally {
    for (const s of ["SIGINT", "SIGTERM"] as const) process.off(s, onSignal);
  }
}

// `podlogreader logs KIND/NAME`: flags in, exit code out; the following itself is src/logs/.
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { connectionFlags, helpFlag, namespaceFlag, requiredWorkloadArg } from "../flags/common.ts";
import { boolFlag, durationFlag, flag, parseFlagSet, type TypedFlag, type ValuesOf } from "../flags/flag-set.ts";
import { UsageError } from "../flags/parse.ts";
import { KubeApi } from "../kube/api.ts";
import { loadConnection } from "../kube/config.ts";
import { Transport } from "../kube/transport.ts";
import { printWorkloadLogs } from "../logs/follow.ts";
import { useColour } from "../logs/format.ts";
import type { Output } from "../logs/stream.ts";
import { defineCommand, type HelpRequest } from "./command.ts";

const SUMMARY =
  "Print the logs of every pod of a workload (deploy, sts, ds, rs, job, cronjob), each line prefixed " +
  "with [pod/POD/CONTAINER], coloured on a terminal unless NO_COLOR is set. It needs only what " +
  "podlogreader grants a workload's ServiceAccount in the `own` mode, so it works with the kubeconfig " +
  "`podlogreader kubeconfig` writes: get on the workload's Role by name, to learn its pods; get on those " +
  "pods and on their logs. When the Role names no pod (--role-pod-names=none), the workload's pods are listed " +
  "by its selector, which podlogreader's webhook authorizer allows, and only those whose controller chain leads " +
  "to the workload are read. That grant allows no watch, so with --follow the Role is read (and the pods listed) again every 2 s " +
  "(with backoff while the apiserver fails) and log streams start and stop as pods come and go: " +
  "scale-ups, rollouts, new Job runs. Each followed pod is read again every 5 s, so a stream that outlives " +
  "its pod (a StatefulSet pod replaced under the same name, a lost node) is reopened. " +
  "A stream whose access was removed ends with a note on standard error; and since Kubernetes authorizes a log " +
  "request only when it starts, with --follow every 5 s the apiserver is asked (SelfSubjectAccessReview) whether " +
  "each followed pod's log may still be read, and the streams of those it may not (a grant that expired or was " +
  "revoked) end with a note and are not followed again. " +
  "other stream errors, and containers that have not started yet, are retried with backoff. " +
  "It reads only a Role that carries podlogreader's marks for the workload (the label " +
  "app.kubernetes.io/managed-by=podlogreader, and a controller ownerReference to the workload or the annotation " +
  "podlogreader.dev/workload naming it); of any other Role of that name it says what is missing and reads no log. " +
  "Exit code 1 on an error, on a Role without those marks, or, while following, when the Role can no longer be read " +
  "or loses its marks, or access to every followed pod's log has ended; 2 on a usage error.";

/** The same flag, absent unless given. */
function optional<T>(f: TypedFlag<T>): TypedFlag<T | undefined> {
  return { ...f, schema: v.optional(f.schema) };
}

export const LOGS_FLAGS = {
  namespace: namespaceFlag("The workload's namespace. Default: the kubeconfig context's namespace, else default."),
  follow: {
    ...boolFlag(
      "follow",
      "Keep streaming, and follow the workload's pods as they change. Without it, print the current pods' logs and exit.",
      "false",
    ),
    short: "f",
  },
  sinceMs: optional(
    durationFlag({ name: "since", help: "Only lines newer than this, e.g. 30s, 10m, 2h." }, (ms) =>
      ms < 1000 ? "--since must be a duration of 1s or more, e.g. 30s, 10m or 2h" : undefined,
    ),
  ),
  tail: flag(
    {
      name: "tail",
      kind: "string",
      value: "LINES",
      default: "-1",
      help: "Lines of each container's recent log to print first; -1 prints all.",
    },
    v.pipe(
      v.string(),
      v.regex(/^(-1|\d+)$/, "--tail must be a number of lines, or -1 for all"),
      v.transform((t) => (Number(t) < 0 ? undefined : Number(t))),
    ),
  ),
  timestamps: boolFlag("timestamps", "Print each line's timestamp (RFC 3339) after the prefix.", "false"),
  container: flag(
    {
      name: "container",
      short: "c",
      kind: "string",
      value: "NAME",
      help:
        "Only this container of each pod. Default: the pod's default container (annotation kubectl.kubernetes.io/default-container, " +
        "else the first).",
    },
    v.optional(v.pipe(v.string(), v.minLength(1, "--container needs a value"))),
  ),
  allContainers: boolFlag("all-containers", "Every container of each pod: init, app and ephemeral ones.", "false"),
  previous: { ...boolFlag("previous", "The logs of each container's previous, terminated instance.", "false"), short: "p" },
  ...connectionFlags,
  help: helpFlag,
};

export interface LogsOptions extends Omit<ValuesOf<typeof LOGS_FLAGS>, "help" | "sinceMs" | "tail"> {
  kind: WorkloadKind;
  name: string;
  sinceSeconds?: number;
  /** Undefined prints all lines. */
  tailLines?: number;
}

/** Parses the arguments after `logs`; `{ help: true }` when --help was asked. Throws UsageError. */
export function parseLogsArgs(argv: string[]): LogsOptions | HelpRequest {
  const { values, positionals } = parseFlagSet(LOGS_FLAGS, argv, 1);
  if (values.help) return { help: true };
  const ref = requiredWorkloadArg(positionals[0], "logs");
  if (values.container !== undefined && values.allContainers)
    throw new UsageError("--container and --all-containers cannot be used together");
  const { help: _help, sinceMs, tail, ...rest } = values;
  return {
    ...rest,
    kind: ref.kind,
    name: ref.name,
    sinceSeconds: sinceMs === undefined ? undefined : Math.ceil(sinceMs / 1000),
    tailLines: tail,
  };
}

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

/** Runs `podlogreader logs` with parsed options; returns the exit code (0; 1 error; 130 interrupted). */
export async function runLogs(
  options: LogsOptions,
  io: LogsIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  program = "podlogreader",
): Promise<number> {
  const fail = (message: string) => io.stderr.write(`${program} logs: ${message}\n`);

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
    const code = await printWorkloadLogs(
      api,
      {
        namespace: namespace ?? "default",
        kind: options.kind,
        name: options.name,
        containers:
          options.container !== undefined ? { container: options.container } : options.allContainers ? { all: true } : { default: true },
        follow: options.follow,
        sinceSeconds: options.sinceSeconds,
        tailLines: options.tailLines,
        timestamps: options.timestamps,
        previous: options.previous,
        colour: useColour(io.stdout.isTTY, io.env),
      },
      out,
      io.signal ? AbortSignal.any([io.signal, stop.signal]) : stop.signal,
    );
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

export const logsCommand = defineCommand({
  name: "logs",
  args: "KIND/NAME ...",
  does: "print and follow the logs of a workload's pods, with only its own grant",
  usage: "logs KIND/NAME [-n NAMESPACE] [-f] [--since 10m] [--tail 20] [-c NAME | --all-containers]",
  summary: SUMMARY,
  flags: LOGS_FLAGS,
  parse: parseLogsArgs,
  execute: (options, program) => runLogs(options, undefined, program),
});

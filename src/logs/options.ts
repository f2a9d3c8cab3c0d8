// Flags of `podlogreader logs`: one table drives parsing, validation and --help.
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { parseWorkloadRef } from "../admin/workload-ref.ts";
import { flagHelp, parseFlags, UsageError, wrap, type Flag } from "../cli/flags.ts";
import { parseDuration } from "../util/duration.ts";

export const LOGS_USAGE = "podlogreader logs KIND/NAME [-n NAMESPACE] [-f] [--since 10m] [--tail 20] [-c NAME | --all-containers]";

const SUMMARY =
  "Print the logs of every pod of a workload (deploy, sts, ds, rs, job, cronjob), each line prefixed " +
  "with [pod/POD/CONTAINER], coloured on a terminal unless NO_COLOR is set. It needs only what " +
  "podlogreader grants a workload's ServiceAccount in the `own` mode, so it works with the kubeconfig " +
  "`podlogreader kubeconfig` writes: get on the workload's Role by name, to learn its pods; get on those " +
  "pods and on their logs. That grant allows no watch, so with --follow the Role is read again every 2 s " +
  "(with backoff while the apiserver fails) and log streams start and stop as pods come and go: " +
  "scale-ups, rollouts, new Job runs. Each followed pod is read again every 5 s, so a stream that outlives " +
  "its pod (a StatefulSet pod replaced under the same name, a lost node) is reopened. " +
  "A stream whose access was removed ends with a note on standard error; " +
  "other stream errors, and containers that have not started yet, are retried with backoff. " +
  "Exit code 1 on an error, or when the Role can no longer be read while following; 2 on a usage error.";

export const LOGS_FLAGS: Flag[] = [
  { name: "namespace", short: "n", kind: "string", value: "NS", help: "The workload's namespace. Default: the kubeconfig context's namespace, else default." },
  { name: "follow", short: "f", kind: "bool", help: "Keep streaming, and follow the workload's pods as they change. Without it, print the current pods' logs and exit." },
  { name: "since", kind: "string", value: "DURATION", help: "Only lines newer than this, e.g. 30s, 10m, 2h." },
  { name: "tail", kind: "string", value: "LINES", default: "-1", help: "Lines of each container's recent log to print first; -1 prints all." },
  { name: "timestamps", kind: "bool", help: "Print each line's timestamp (RFC 3339) after the prefix." },
  { name: "container", short: "c", kind: "string", value: "NAME", help: "Only this container of each pod. Default: the pod's default container (annotation kubectl.kubernetes.io/default-container, else the first)." },
  { name: "all-containers", kind: "bool", help: "Every container of each pod: init, app and ephemeral ones." },
  { name: "previous", short: "p", kind: "bool", help: "The logs of each container's previous, terminated instance." },
  { name: "kubeconfig", kind: "string", value: "PATH", help: "Kubeconfig file to use. Without it: $KUBECONFIG, then in-cluster config, then ~/.kube/config." },
  { name: "help", short: "h", kind: "bool", help: "Show this help and exit." },
];

export interface LogsOptions {
  kind: WorkloadKind;
  name: string;
  namespace?: string;
  kubeconfig?: string;
  follow: boolean;
  sinceSeconds?: number;
  /** Undefined prints all lines. */
  tailLines?: number;
  timestamps: boolean;
  container?: string;
  allContainers: boolean;
  previous: boolean;
}

export function logsHelp(): string {
  return [`Usage: ${LOGS_USAGE}`, "", ...wrap(SUMMARY, 78), "", "Flags:", ...flagHelp(LOGS_FLAGS)].join("\n");
}

const namespaceName = v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "-n must be a valid namespace name"), v.maxLength(63, "-n must be at most 63 characters"));
const nonEmpty = (flag: string) => v.pipe(v.string(), v.minLength(1, `${flag} needs a value`));

function check<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (!r.success) throw new UsageError(r.issues[0].message);
  return r.output;
}

/** Parses the arguments after `logs`; `{ help: true }` when --help was asked. Throws UsageError. */
export function parseLogsArgs(argv: string[]): LogsOptions | { help: true } {
  const { values, positionals } = parseFlags(LOGS_FLAGS, argv, 1);
  if (values.help === "true") return { help: true };
  if (positionals.length === 0) throw new UsageError("logs needs a workload, e.g. deploy/web");
  const ref = parseWorkloadRef(positionals[0]!);
  if (!ref) throw new UsageError(`${JSON.stringify(positionals[0])} is not KIND/NAME with KIND one of deploy, sts, ds, rs, job, cronjob`);

  let sinceSeconds: number | undefined;
  if (values.since !== undefined) {
    const ms = parseDuration(String(values.since));
    if (ms === undefined || ms < 1000) throw new UsageError("--since must be a duration of 1s or more, e.g. 30s, 10m or 2h");
    sinceSeconds = Math.ceil(ms / 1000);
  }
  const tail = String(values.tail);
  if (!/^-?\d+$/.test(tail) || Number(tail) < -1) throw new UsageError("--tail must be a number of lines, or -1 for all");
  const container = check(v.optional(nonEmpty("--container")), values.container);
  const allContainers = values["all-containers"] === "true";
  if (container !== undefined && allContainers) throw new UsageError("--container and --all-containers cannot be used together");

  return {
    kind: ref.kind,
    name: ref.name,
    namespace: check(v.optional(namespaceName), values.namespace),
    kubeconfig: check(v.optional(nonEmpty("--kubeconfig")), values.kubeconfig),
    follow: values.follow === "true",
    sinceSeconds,
    tailLines: Number(tail) < 0 ? undefined : Number(tail),
    timestamps: values.timestamps === "true",
    container,
    allContainers,
    previous: values.previous === "true",
  };
}

// Flags of `podlogreader logs`: one table drives parsing, validation and --help.
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { parseWorkloadRef } from "../admin/workload-ref.ts";
import { connectionFlags, helpFlag, namespaceFlag } from "../cli/common-flags.ts";
import { boolFlag, durationFlag, flag, flagSetHelp, parseFlagSet, type TypedFlag, type ValuesOf } from "../cli/flag-set.ts";
import { UsageError, wrap } from "../cli/flags.ts";

export const LOGS_USAGE = "podlogreader logs KIND/NAME [-n NAMESPACE] [-f] [--since 10m] [--tail 20] [-c NAME | --all-containers]";

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
  follow: { ...boolFlag("follow", "Keep streaming, and follow the workload's pods as they change. Without it, print the current pods' logs and exit.", "false"), short: "f" },
  sinceMs: optional(durationFlag({ name: "since", help: "Only lines newer than this, e.g. 30s, 10m, 2h." }, (ms) => (ms < 1000 ? "--since must be a duration of 1s or more, e.g. 30s, 10m or 2h" : undefined))),
  tail: flag(
    { name: "tail", kind: "string", value: "LINES", default: "-1", help: "Lines of each container's recent log to print first; -1 prints all." },
    v.pipe(v.string(), v.regex(/^(-1|\d+)$/, "--tail must be a number of lines, or -1 for all"), v.transform((t) => (Number(t) < 0 ? undefined : Number(t)))),
  ),
  timestamps: boolFlag("timestamps", "Print each line's timestamp (RFC 3339) after the prefix.", "false"),
  container: flag(
    { name: "container", short: "c", kind: "string", value: "NAME", help: "Only this container of each pod. Default: the pod's default container (annotation kubectl.kubernetes.io/default-container, else the first)." },
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

export function logsHelp(): string {
  return [`Usage: ${LOGS_USAGE}`, "", ...wrap(SUMMARY, 78), "", "Flags:", ...flagSetHelp(LOGS_FLAGS)].join("\n");
}

/** Parses the arguments after `logs`; `{ help: true }` when --help was asked. Throws UsageError. */
export function parseLogsArgs(argv: string[]): LogsOptions | { help: true } {
  const { values, positionals } = parseFlagSet(LOGS_FLAGS, argv, 1);
  if (values.help) return { help: true };
  if (positionals.length === 0) throw new UsageError("logs needs a workload, e.g. deploy/web");
  const ref = parseWorkloadRef(positionals[0]!);
  if (!ref) throw new UsageError(`${JSON.stringify(positionals[0])} is not KIND/NAME with KIND one of deploy, sts, ds, rs, job, cronjob`);
  if (values.container !== undefined && values.allContainers) throw new UsageError("--container and --all-containers cannot be used together");
  const { help: _help, sinceMs, tail, ...rest } = values;
  return { ...rest, kind: ref.kind, name: ref.name, sinceSeconds: sinceMs === undefined ? undefined : Math.ceil(sinceMs / 1000), tailLines: tail };
}

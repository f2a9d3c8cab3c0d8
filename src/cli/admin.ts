// Flags of the admin commands: kubeconfig, audit and status.
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { parseWorkloadRef } from "../admin/workload-ref.ts";
import { parseDuration } from "../util/duration.ts";
import { flagHelp, parseFlags, UsageError, wrap, type Flag } from "./flags.ts";

const kubeconfigFlag: Flag = { name: "kubeconfig", kind: "string", value: "PATH", help: "Kubeconfig file to use. Without it: $KUBECONFIG, then in-cluster config, then ~/.kube/config." };
const helpFlag: Flag = { name: "help", short: "h", kind: "bool", help: "Show this help and exit." };
const namespaceName = v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "-n must be a valid namespace name"), v.maxLength(63, "-n must be at most 63 characters"));
const outputFormat = v.picklist(["table", "json"], "--output must be table or json");
const listFlags: Flag[] = [
  { name: "namespace", short: "n", kind: "string", value: "NS", help: "Only this namespace. Default: all." },
  { name: "output", short: "o", kind: "string", value: "FORMAT", default: "table", help: "table or json." },
  kubeconfigFlag,
  helpFlag,
];

export const COMMANDS = {
  kubeconfig: {
    usage: "podlogreader kubeconfig -n NAMESPACE KIND/NAME [--duration 1h] [-o FILE]",
    summary: "Write a kubeconfig with a short-lived token of the workload's managed ServiceAccount: it reads that workload's pod logs and nothing else.",
    flags: [
      { name: "namespace", short: "n", kind: "string", value: "NS", help: "The workload's namespace. Default: the kubeconfig context's namespace." },
      { name: "duration", kind: "string", value: "DURATION", default: "1h", help: "How long the token is valid, e.g. 30m, 8h. The apiserver accepts 10m at least." },
      { name: "output", short: "o", kind: "string", value: "FILE", help: "Write the kubeconfig to FILE (mode 0600) instead of standard output." },
      kubeconfigFlag,
      helpFlag,
    ] as Flag[],
  },
  audit: {
    usage: "podlogreader audit [-n NAMESPACE] [--output table|json]",
    summary: "For every ServiceAccount podlogreader manages: work out its workload's pods afresh (controller ownerReferences by UID), compare them with the names in its Role, find every RoleBinding and ClusterRoleBinding that reaches it (also through groups), and ask the apiserver's authorizer about pod logs in its namespace, in other namespaces and cluster-wide, and about other paths (nodes/proxy, exec, attach, port-forward, impersonation, tokens, secrets, escalate, bind). Each finding has a kind: stale-name, foreign-member, namespace-wide, cross-namespace, cluster-wide, other-path, missing-name. Exit code 1 on any over-grant, 0 otherwise; under-grants (missing-name) are reported.",
    flags: listFlags,
  },
  status: {
    usage: "podlogreader status [-n NAMESPACE] [--output table|json]",
    summary: "List the opted-in workloads: namespace, kind and name, pod count, Role, whether the Role lists exactly the current pods, and when podlogreader last wrote it.",
    flags: listFlags,
  },
} as const;

export type AdminCommand = keyof typeof COMMANDS;

export function commandHelp(command: AdminCommand): string {
  const c = COMMANDS[command];
  return [`Usage: ${c.usage}`, "", ...wrap(c.summary, 78), "", "Flags:", ...flagHelp(c.flags)].join("\n");
}

export interface KubeconfigOptions { command: "kubeconfig"; help: boolean; kubeconfig?: string; namespace?: string; kind: WorkloadKind; name: string; durationSeconds: number; output?: string }
export interface ListOptions { command: "audit" | "status"; help: boolean; kubeconfig?: string; namespace?: string; output: "table" | "json" }
export type AdminOptions = KubeconfigOptions | ListOptions;

function check<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (!r.success) throw new UsageError(r.issues[0].message);
  return r.output;
}

export function parseAdmin(command: AdminCommand, argv: string[]): AdminOptions | { command: AdminCommand; help: true } {
  const { values, positionals } = parseFlags(COMMANDS[command].flags, argv, command === "kubeconfig" ? 1 : 0);
  if (values.help === "true") return { command, help: true };
  const kubeconfig = check(v.optional(v.pipe(v.string(), v.minLength(1, "--kubeconfig needs a path"))), values.kubeconfig);
  const namespace = check(v.optional(namespaceName), values.namespace);
  if (command !== "kubeconfig") {
    return { command, help: false, kubeconfig, namespace, output: check(outputFormat, values.output) };
  }
  if (positionals.length === 0) throw new UsageError("kubeconfig needs a workload, e.g. deploy/web");
  const ref = parseWorkloadRef(positionals[0]!);
  if (!ref) throw new UsageError(`${JSON.stringify(positionals[0])} is not KIND/NAME with KIND one of deploy, sts, ds, rs, job, cronjob`);
  const ms = parseDuration(String(values.duration));
  if (ms === undefined || ms < 1000 || ms % 1000 !== 0) throw new UsageError("--duration must be a whole number of seconds or more, e.g. 30m or 8h");
  const output = check(v.optional(v.pipe(v.string(), v.minLength(1, "-o needs a file"))), values.output);
  return { command, help: false, kubeconfig, namespace, kind: ref.kind, name: ref.name, durationSeconds: ms / 1000, output };
}

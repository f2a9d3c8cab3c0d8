// Flags of the admin commands (kubeconfig, audit, status, version), each command one table.
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { parseWorkloadRef } from "../admin/workload-ref.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag } from "./common-flags.ts";
import { durationFlag, flag, flagSetHelp, parseFlagSet, type FlagSet, type ValuesOf } from "./flag-set.ts";
import { UsageError, wrap } from "./flags.ts";

const KUBECONFIG_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The workload's namespace. Default: the kubeconfig context's namespace."),
  durationMs: durationFlag(
    { name: "duration", default: "1h", help: "How long the token is valid, e.g. 30m, 8h. The apiserver accepts 10m at least." },
    (ms) => (ms < 1000 || ms % 1000 !== 0 ? "--duration must be a whole number of seconds or more, e.g. 30m or 8h" : undefined),
  ),
  output: outputFlag(["yaml", "json"], "yaml"),
  outputFile: flag(
    { name: "output-file", kind: "string", value: "FILE", help: "Write the kubeconfig to FILE (mode 0600) instead of standard output." },
    v.optional(v.pipe(v.string(), v.minLength(1, "--output-file needs a file name"))),
  ),
  help: helpFlag,
};

const LIST_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("Only this namespace. Default: all."),
  output: outputFlag(["table", "json"], "table"),
  help: helpFlag,
};

const VERSION_FLAGS = {
  output: outputFlag(["json", "yaml"]),
  help: helpFlag,
};

interface Command<S extends FlagSet> {
  usage: string;
  summary: string;
  flags: S;
  positionals: number;
}

export const COMMANDS = {
  kubeconfig: {
    usage: "kubeconfig -n NAMESPACE KIND/NAME [--duration 1h] [--output-file FILE]",
    summary: "Write a kubeconfig with a short-lived token of the workload's managed ServiceAccount: it reads that workload's pod logs and nothing else.",
    flags: KUBECONFIG_FLAGS,
    positionals: 1,
  } satisfies Command<typeof KUBECONFIG_FLAGS>,
  audit: {
    usage: "audit [-n NAMESPACE] [-o table|json]",
    summary: "For every ServiceAccount podlogreader manages: work out its workload's pods afresh (controller ownerReferences by UID), compare them with the names in its Role, find every RoleBinding and ClusterRoleBinding that reaches it (also through groups), and ask the apiserver's authorizer about pod logs in its namespace, in other namespaces and cluster-wide, and about other paths (nodes/proxy, exec, attach, port-forward, impersonation, tokens, secrets, escalate, bind). Each finding has a kind: stale-name, foreign-member, namespace-wide, cross-namespace, cluster-wide, other-path, missing-name. Exit code 1 on any over-grant, 0 otherwise; under-grants (missing-name) are reported.",
    flags: LIST_FLAGS,
    positionals: 0,
  } satisfies Command<typeof LIST_FLAGS>,
  status: {
    usage: "status [-n NAMESPACE] [-o table|json]",
    summary: "List the opted-in workloads: namespace, kind and name, pod count, Role, whether the Role lists exactly the current pods, and when podlogreader last wrote it.",
    flags: LIST_FLAGS,
    positionals: 0,
  } satisfies Command<typeof LIST_FLAGS>,
  version: {
    usage: "version [-o json|yaml]",
    summary: "Print the version of podlogreader.",
    flags: VERSION_FLAGS,
    positionals: 0,
  } satisfies Command<typeof VERSION_FLAGS>,
};

export type AdminCommand = keyof typeof COMMANDS;

export function isAdminCommand(word: string | undefined): word is AdminCommand {
  return word !== undefined && Object.hasOwn(COMMANDS, word);
}

export function commandHelp(command: AdminCommand, program = "podlogreader"): string {
  const c = COMMANDS[command];
  return [`Usage: ${program} ${c.usage}`, "", ...wrap(c.summary, 78), "", "Flags:", ...flagSetHelp(c.flags)].join("\n");
}

export type KubeconfigOptions = ValuesOf<typeof KUBECONFIG_FLAGS> & { command: "kubeconfig"; kind: WorkloadKind; name: string };
export type ListCommandOptions = ValuesOf<typeof LIST_FLAGS> & { command: "audit" | "status" };
export type VersionOptions = ValuesOf<typeof VERSION_FLAGS> & { command: "version" };
export type AdminOptions = KubeconfigOptions | ListCommandOptions | VersionOptions;

export interface HelpRequest { command: AdminCommand; help: true }

export function parseAdmin(command: AdminCommand, argv: string[]): AdminOptions | HelpRequest {
  switch (command) {
    case "kubeconfig": {
      const { values, positionals } = parseFlagSet(KUBECONFIG_FLAGS, argv, 1);
      if (values.help) return { command, help: true };
      if (positionals.length === 0) throw new UsageError("kubeconfig needs a workload, e.g. deploy/web");
      const ref = parseWorkloadRef(positionals[0]!);
      if (!ref) throw new UsageError(`${JSON.stringify(positionals[0])} is not KIND/NAME with KIND one of deploy, sts, ds, rs, job, cronjob`);
      return { ...values, command, kind: ref.kind, name: ref.name };
    }
    case "audit":
    case "status":
      return { ...parseFlagSet(LIST_FLAGS, argv).values, command };
    case "version":
      return { ...parseFlagSet(VERSION_FLAGS, argv).values, command };
  }
}

// Flags of the admin commands (kubeconfig, audit, status, cleanup, version), each command one table.
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { parseWorkloadRef } from "../admin/workload-ref.ts";
import { connectionFlags, helpFlag, isNamespaceName, NAMESPACE_RULE, namespaceFlag, namespaceSchema, outputFlag } from "./common-flags.ts";
import { boolFlag, durationFlag, flag, flagSetHelp, parseFlagSet, type FlagSet, type ValuesOf } from "./flag-set.ts";
import { UsageError, wrap } from "./flags.ts";
import { GRANT_FLAGS, GRANTS_FLAGS, parseGrant, parseGrants, parseRevoke, REVOKE_FLAGS, type GrantOptions, type GrantsOptions, type RevokeOptions } from "./grant-flags.ts";

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

const CLEANUP_FLAGS = {
  ...connectionFlags,
  namespaces: flag(
    { name: "namespace", short: "n", kind: "list", value: "NS", help: "Clean this namespace. Repeat the flag (or separate with commas) for several. Default: the kubeconfig context's namespace, as kubectl does." },
    v.pipe(
      v.array(v.string()),
      v.transform((values) => values.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean)),
      v.check((list) => list.every(isNamespaceName), `--namespace must be ${NAMESPACE_RULE}`),
      v.transform((list) => [...new Set(list)]),
    ),
  ),
  allNamespaces: { ...boolFlag("all-namespaces", "Clean every namespace."), short: "A" },
  leaderElectionNamespace: flag(
    { name: "leader-election-namespace", kind: "string", value: "NS", help: "Namespace of the controller's Lease (with --leader-election-id): it is checked before anything is deleted and deleted last." },
    v.optional(namespaceSchema("leader-election-namespace")),
  ),
  leaderElectionId: flag(
    { name: "leader-election-id", kind: "string", value: "NAME", help: "Name of the controller's Lease (with --leader-election-namespace). A Lease carries no mark of podlogreader's, so only the one named is deleted." },
    v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "--leader-election-id must be a valid object name"), v.maxLength(253, "--leader-election-id must be at most 253 characters"))),
  ),
  waitForLeaseMs: durationFlag({
    name: "wait-for-lease", default: "0s",
    help: "Before deleting anything, wait up to this long for the Lease to be released, or to go unrenewed for its whole duration as a standby replica waits; a leader stops writing before that. If it is still held then, a warning is printed and cleanup goes on. 0 does not wait.",
  }),
  dryRun: boolFlag("dry-run", "Send every delete with the server's dryRun=All: the apiserver authorizes and checks each one, and deletes nothing. Prints what would be deleted."),
  output: outputFlag(["json"]),
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
    summary: "Write a kubeconfig with a short-lived token of the workload's managed ServiceAccount: it reads that workload's pod logs and nothing else. Refused (exit code 1), naming the permission and the binding, when the audit finds the ServiceAccount reaches more, such as creating pods or workloads that could run as another ServiceAccount.",
    flags: KUBECONFIG_FLAGS,
    positionals: 1,
  } satisfies Command<typeof KUBECONFIG_FLAGS>,
  audit: {
    usage: "audit [-n NAMESPACE] [-o table|json]",
    summary: "For every ServiceAccount podlogreader manages: work out its workload's pods afresh (controller ownerReferences by UID), compare them with the names in its Role, find every RoleBinding and ClusterRoleBinding that reaches it (also through groups), and ask the apiserver's authorizer about pod logs in its namespace, in other namespaces and cluster-wide, about ways to act as another identity (create, update or patch pods and workloads; ephemeral containers; exec, attach, port-forward; impersonation; tokens of other ServiceAccounts; secrets; approving certificate requests), and about other paths (nodes/proxy, nodes/log, escalate, bind). Then the RoleBindings to people: grants still there past their expiry, grants that bind anything but the managed Role of the workload they name, and bindings to a managed Role that podlogreader did not issue. Each finding has a kind: stale-name, foreign-member, namespace-wide, cross-namespace, cluster-wide, other-identity, other-path, expired-grant, misdirected-grant, unissued-binding, missing-name. Exit code 1 on any over-grant, 0 otherwise; under-grants (missing-name) are reported.",
    flags: LIST_FLAGS,
    positionals: 0,
  } satisfies Command<typeof LIST_FLAGS>,
  status: {
    usage: "status [-n NAMESPACE] [-o table|json]",
    summary: "List the opted-in workloads: namespace, kind and name, pod count, Role, whether the Role lists exactly the current pods, and when podlogreader last wrote it.",
    flags: LIST_FLAGS,
    positionals: 0,
  } satisfies Command<typeof LIST_FLAGS>,
  cleanup: {
    usage: "cleanup [-n NAMESPACE | -A] [--leader-election-namespace NS --leader-election-id NAME] [--wait-for-lease 30s] [--dry-run] [-o json]",
    summary: "Delete every RoleBinding, Role and ServiceAccount that podlogreader made, in that order, and the controller's Lease. Made by podlogreader means: the label app.kubernetes.io/managed-by=podlogreader, the annotation podlogreader.dev/workload and a controller ownerReference, all naming the same workload, and the name podlogreader gives that workload's objects. Anything else is left alone and said so. Each delete is of the version that was judged (uid and resourceVersion preconditions). Run it after the controller has stopped: a running leader recreates what it manages. Exit code 0 when everything was removed (also when there was nothing to remove), 1 on any failure, with the permission that was missing when the apiserver refused.",
    flags: CLEANUP_FLAGS,
    positionals: 0,
  } satisfies Command<typeof CLEANUP_FLAGS>,
  grant: {
    usage: "grant -n NAMESPACE KIND/NAME --to SUBJECT [--to SUBJECT...] --for 8h --reason TEXT [-o json]",
    summary: "Let people, groups or ServiceAccounts read a workload's pod logs for a while: one RoleBinding to the workload's managed Role, which follows its pods across rollouts. The binding records its expiry, the reason and who granted it (the user the apiserver authenticates you as); the controller deletes it when it expires. The apiserver only lets you bind the Role if you can read those logs yourself or hold bind on it. Granting the same subjects again renews the grant.",
    flags: GRANT_FLAGS,
    positionals: 1,
  } satisfies Command<typeof GRANT_FLAGS>,
  grants: {
    usage: "grants -n NAMESPACE [KIND/NAME] [-o table|json]",
    summary: "List who may read each opted-in workload's logs through its managed Role: its managed ServiceAccount, grants (until when, why, granted by whom) and RoleBindings podlogreader did not issue.",
    flags: GRANTS_FLAGS,
    positionals: 1,
  } satisfies Command<typeof GRANTS_FLAGS>,
  revoke: {
    usage: "revoke -n NAMESPACE KIND/NAME --to SUBJECT | revoke -n NAMESPACE --name BINDING",
    summary: "Remove a grant before it expires: take a subject out of a workload's grants, or delete one grant RoleBinding by name. Only RoleBindings issued by podlogreader grant are changed. A 'kubectl logs -f' already running goes on: Kubernetes authorizes a request when it starts.",
    flags: REVOKE_FLAGS,
    positionals: 1,
  } satisfies Command<typeof REVOKE_FLAGS>,
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
export type CleanupOptions = ValuesOf<typeof CLEANUP_FLAGS> & { command: "cleanup"; lease?: { namespace: string; name: string } };
export type VersionOptions = ValuesOf<typeof VERSION_FLAGS> & { command: "version" };
export type AdminOptions = KubeconfigOptions | ListCommandOptions | CleanupOptions | VersionOptions | GrantOptions | GrantsOptions | RevokeOptions;

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
    case "cleanup":
      return parseCleanup(argv);
    case "version":
      return { ...parseFlagSet(VERSION_FLAGS, argv).values, command };
    case "grant":
      return parseGrant(argv);
    case "grants":
      return parseGrants(argv);
    case "revoke":
      return parseRevoke(argv);
  }
}

function parseCleanup(argv: string[]): CleanupOptions | HelpRequest {
  const values = parseFlagSet(CLEANUP_FLAGS, argv).values;
  if (values.help) return { command: "cleanup", help: true };
  if (values.allNamespaces && values.namespaces.length > 0) throw new UsageError("-n/--namespace and -A/--all-namespaces cannot go together");
  const { leaderElectionNamespace: namespace, leaderElectionId: name } = values;
  if ((namespace === undefined) !== (name === undefined)) throw new UsageError("--leader-election-namespace and --leader-election-id go together: give both or neither");
  if (values.waitForLeaseMs > 0 && name === undefined) throw new UsageError("--wait-for-lease needs the Lease: --leader-election-namespace and --leader-election-id");
  return { ...values, command: "cleanup", lease: namespace !== undefined && name !== undefined ? { namespace, name } : undefined };
}

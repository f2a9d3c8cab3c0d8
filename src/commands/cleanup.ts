// `podlogreader cleanup`: delete what podlogreader made, and say what was left alone.
import * as v from "valibot";
import { cleanup } from "../admin/cleanup.ts";
import { deletedLine, leftAloneLine } from "../admin/cleanup/format.ts";
import { CLEANUP_RESOURCES, type CleanupKind } from "../admin/cleanup/plan.ts";
import { connectionFlags, helpFlag, namespacesFlag, namespaceSchema, objectNameSchema, outputFlag } from "../flags/common.ts";
import { boolFlag, durationFlag, flag, parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { UsageError } from "../flags/parse.ts";
import { Leases } from "../kube/resources.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type HelpRequest } from "./command.ts";
import { connect, failed } from "./connect.ts";

export const CLEANUP_FLAGS = {
  ...connectionFlags,
  namespaces: namespacesFlag(
    "Clean this namespace. Repeat the flag (or separate with commas) for several. Default: the kubeconfig context's namespace, as " +
      "kubectl does.",
  ),
  allNamespaces: { ...boolFlag("all-namespaces", "Clean every namespace."), short: "A" },
  leaderElectionNamespace: flag(
    {
      name: "leader-election-namespace",
      kind: "string",
      value: "NS",
      help: "Namespace of the controller's Lease (with --leader-election-id): it is checked before anything is deleted and deleted last.",
    },
    v.optional(namespaceSchema("leader-election-namespace")),
  ),
  leaderElectionId: flag(
    {
      name: "leader-election-id",
      kind: "string",
      value: "NAME",
      help:
        "Name of the controller's Lease (with --leader-election-namespace). A Lease carries no mark of podlogreader's, so only the " +
        "one named is deleted.",
    },
    v.optional(objectNameSchema("leader-election-id")),
  ),
  waitForLeaseMs: durationFlag({
    name: "wait-for-lease",
    default: "0s",
    help:
      "Before deleting anything, wait up to this long for the Lease to be released, or to go unrenewed for its whole duration as a " +
      "standby replica waits; a leader stops writing before that. If it is still held then, a warning is printed and cleanup goes " +
      "on. 0 does not wait.",
  }),
  dryRun: boolFlag(
    "dry-run",
    "Send every delete with the server's dryRun=All: the apiserver authorizes and checks each one, and deletes nothing. Prints " +
      "what would be deleted.",
  ),
  output: outputFlag(["json"]),
  help: helpFlag,
};

export type CleanupOptions = ValuesOf<typeof CLEANUP_FLAGS> & { lease?: { namespace: string; name: string } };

export function parseCleanup(argv: string[]): CleanupOptions | HelpRequest {
  const values = parseFlagSet(CLEANUP_FLAGS, argv).values;
  if (values.help) return { help: true };
  if (values.allNamespaces && values.namespaces.length > 0)
    throw new UsageError("-n/--namespace and -A/--all-namespaces cannot go together");
  const { leaderElectionNamespace: namespace, leaderElectionId: name } = values;
  if ((namespace === undefined) !== (name === undefined))
    throw new UsageError("--leader-election-namespace and --leader-election-id go together: give both or neither");
  if (values.waitForLeaseMs > 0 && name === undefined)
    throw new UsageError("--wait-for-lease needs the Lease: --leader-election-namespace and --leader-election-id");
  return { ...values, lease: namespace !== undefined && name !== undefined ? { namespace, name } : undefined };
}

async function run(opts: CleanupOptions, program: string): Promise<number> {
  const { api, connection } = connect({ ...opts, namespace: undefined });
  const namespaces = opts.allNamespaces ? undefined : opts.namespaces.length > 0 ? opts.namespaces : [connection.namespace ?? "default"];
  const text = opts.output !== "json";
  const err = (s: string) => process.stderr.write(`${s}\n`);
  const resource = (kind: string) => (kind === "Lease" ? Leases : CLEANUP_RESOURCES[kind as CleanupKind]);
  // Each deletion is printed as it happens, in order.
  let printed = Promise.resolve();
  const report = await cleanup(
    api,
    { namespaces, lease: opts.lease, waitForLeaseMs: opts.waitForLeaseMs, dryRun: opts.dryRun },
    {
      removed: (r) => {
        if (text) printed = printed.then(() => writeStdout(deletedLine(resource(r.kind), r.namespace, r.name, opts.dryRun)));
      },
      warn: (message) => err(`Warning: ${message}`),
      note: err,
    },
  );
  await printed;
  if (text) {
    for (const l of report.leftAlone) await writeStdout(leftAloneLine(resource(l.kind), l.namespace, l.name, l.why));
    if (report.ok && report.removed.length === 0)
      err(`No resources made by podlogreader found ${namespaces ? `in namespace ${namespaces.join(", ")}` : "in any namespace"}.`);
  } else {
    await writeStdout(JSON.stringify(report, null, 2));
  }
  for (const e of report.errors) err(`${program} cleanup: ${e}`);
  return report.ok ? 0 : 1;
}

export const cleanupCommand = defineCommand({
  name: "cleanup",
  args: "...",
  does: "delete every Role, RoleBinding and ServiceAccount podlogreader made",
  usage:
    "cleanup [-n NAMESPACE | -A] [--leader-election-namespace NS --leader-election-id NAME] [--wait-for-lease 30s] [--dry-run] [-o json]",
  summary:
    "Delete every RoleBinding, Role and ServiceAccount that podlogreader made, in that order, and the controller's Lease. Made by " +
    "podlogreader means: the label app.kubernetes.io/managed-by=podlogreader, the annotation podlogreader.dev/workload and a " +
    "controller ownerReference, all naming the same workload, and the name podlogreader gives that workload's objects. Anything " +
    "else is left alone and said so. Each delete is of the version that was judged (uid and resourceVersion preconditions). Run it " +
    "after the controller has stopped: a running leader recreates what it manages. Exit code 0 when everything was removed (also " +
    "when there was nothing to remove), 1 on any failure, with the permission that was missing when the apiserver refused.",
  flags: CLEANUP_FLAGS,
  parse: parseCleanup,
  execute: (opts, program) => run(opts, program).catch((err) => failed(program, "cleanup", err)),
});

// `podlogreader revoke`: end a grant before it expires.
import * as v from "valibot";
import type { Subject } from "../access/grants.ts";
import type { WorkloadKind } from "../access/kinds.ts";
import { revoke } from "../admin/grants/revoke.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag, workloadArg } from "../flags/common.ts";
import { flag, parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { UsageError } from "../flags/parse.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type HelpRequest } from "./command.ts";
import { connect, failed } from "./connect.ts";
import { SUBJECT_HELP, subjectArg } from "./grant.ts";

export const REVOKE_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The namespace. Default: the kubeconfig context's namespace."),
  to: flag(
    {
      name: "to",
      kind: "string",
      value: "SUBJECT",
      help:
        `With KIND/NAME: take this subject out of the workload's grants (${SUBJECT_HELP.split(".")[0]}). A grant left without ` +
        `subjects is deleted.`,
    },
    v.optional(v.string()),
  ),
  name: flag(
    {
      name: "name",
      kind: "string",
      value: "BINDING",
      help: "Delete the grant RoleBinding of this name (as 'grants' shows it). Only bindings issued by podlogreader grant are deleted.",
    },
    v.optional(v.pipe(v.string(), v.minLength(1, "--name needs a RoleBinding name"))),
  ),
  output: outputFlag(["json"]),
  help: helpFlag,
};

export type RevokeOptions = Omit<ValuesOf<typeof REVOKE_FLAGS>, "to" | "name"> & {
  target: { workload: { kind: WorkloadKind; name: string }; subject: Subject } | { binding: string };
};

export function parseRevoke(argv: string[]): RevokeOptions | HelpRequest {
  const { values, positionals } = parseFlagSet(REVOKE_FLAGS, argv, 1);
  if (values.help) return { help: true };
  const { to, name, ...rest } = values;
  const ref = workloadArg(positionals[0]);
  if (name !== undefined) {
    if (ref || to !== undefined) throw new UsageError("--name goes alone: give either KIND/NAME --to SUBJECT or --name BINDING");
    return { ...rest, target: { binding: name } };
  }
  if (!ref || to === undefined) throw new UsageError("revoke needs KIND/NAME --to SUBJECT, or --name BINDING");
  return { ...rest, target: { workload: ref, subject: subjectArg(to) } };
}

export const revokeCommand = defineCommand({
  name: "revoke",
  args: "...",
  does: "remove a grant",
  usage: "revoke -n NAMESPACE KIND/NAME --to SUBJECT | revoke -n NAMESPACE --name BINDING",
  summary:
    "Remove a grant before it expires: take a subject out of a workload's grants, or delete one grant RoleBinding by name. Only " +
    "RoleBindings issued by podlogreader grant are changed. A 'kubectl logs -f' already running goes on: Kubernetes authorizes a " +
    "request when it starts.",
  flags: REVOKE_FLAGS,
  parse: parseRevoke,
  async execute(opts, program) {
    try {
      const { api, namespace } = connect(opts);
      const target = opts.target;
      const done = await revoke(
        api,
        "binding" in target ? { namespace, binding: target.binding } : { namespace, ...target.workload, subject: target.subject },
      );
      if (opts.output === "json") {
        await writeStdout(JSON.stringify(done, null, 2));
        return 0;
      }
      for (const r of done) {
        await writeStdout(
          r.action === "deleted"
            ? `Revoked: deleted RoleBinding ${namespace}/${r.binding} (${r.subjects.join(", ")}).`
            : `Revoked: took ${r.subjects.join(", ")} out of RoleBinding ${namespace}/${r.binding}; its other subjects keep the grant.`,
        );
      }
      process.stderr.write(
        "A log stream already open (kubectl logs -f) goes on until it ends: Kubernetes authorizes a request when it starts.\n",
      );
      return 0;
    } catch (err) {
      return failed(program, "revoke", err);
    }
  },
});

// `podlogreader grant`: people, groups or ServiceAccounts may read a workload's logs for a while.
import * as v from "valibot";
import { parseSubject, type Subject } from "../access/grants.ts";
import type { WorkloadKind } from "../access/kinds.ts";
import { grant } from "../admin/grants/grant.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag, requiredWorkloadArg } from "../flags/common.ts";
import { durationFlag, flag, parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { UsageError } from "../flags/parse.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type HelpRequest } from "./command.ts";
import { connect, failed } from "./connect.ts";

export const SUBJECT_HELP =
  "group:NAME, user:NAME or sa:NAMESPACE/NAME. Groups and users that mean everyone (system:authenticated, system:unauthenticated, " +
  "system:serviceaccounts, system:serviceaccounts:NS, system:anonymous) are refused.";

/** A --to value; throws UsageError saying what is wrong with it. */
export function subjectArg(text: string): Subject {
  const s = parseSubject(text);
  if ("error" in s) throw new UsageError(`--to ${s.error}`);
  return s;
}

export const GRANT_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The workload's namespace. Default: the kubeconfig context's namespace."),
  to: flag(
    {
      name: "to",
      kind: "list",
      value: "SUBJECT",
      help: `Who may read the logs: ${SUBJECT_HELP} Repeat for several; they share one RoleBinding.`,
    },
    v.array(v.string()),
  ),
  forMs: flag(
    {
      name: "for",
      kind: "string",
      value: "DURATION",
      help:
        "Required. How long the grant lasts, e.g. 30m, 8h; at least 1s, in whole seconds. The controller deletes the RoleBinding " +
        "when it expires.",
    },
    v.optional(
      durationFlag({ name: "for", help: "" }, (ms) =>
        ms < 1000 || ms % 1000 !== 0 ? "--for must be a whole number of seconds, at least 1s, e.g. 30m or 8h" : undefined,
      ).schema,
    ),
  ),
  reason: flag(
    { name: "reason", kind: "string", value: "TEXT", help: "Required. Why, e.g. a ticket: recorded on the RoleBinding." },
    v.optional(v.string()),
  ),
  output: outputFlag(["json"]),
  help: helpFlag,
};

export type GrantOptions = Omit<ValuesOf<typeof GRANT_FLAGS>, "to" | "forMs" | "reason"> & {
  kind: WorkloadKind;
  name: string;
  subjects: Subject[];
  forMs: number;
  reason: string;
};

export function parseGrant(argv: string[]): GrantOptions | HelpRequest {
  const { values, positionals } = parseFlagSet(GRANT_FLAGS, argv, 1);
  if (values.help) return { help: true };
  const ref = requiredWorkloadArg(positionals[0], "grant");
  if (values.to.length === 0) throw new UsageError("--to is required: who may read the logs, e.g. --to group:frontend");
  const subjects = values.to.map(subjectArg);
  if (values.forMs === undefined) throw new UsageError("--for is required: how long the grant lasts, e.g. --for 8h");
  const reason = values.reason?.trim();
  if (!reason) throw new UsageError("--reason is required: why, e.g. --reason INC-1234");
  const { to: _to, forMs, reason: _reason, ...rest } = values;
  return { ...rest, ...ref, subjects, forMs, reason };
}

export const grantCommand = defineCommand({
  name: "grant",
  args: "KIND/NAME ...",
  does: "let people or groups read a workload's logs until a time",
  usage: "grant -n NAMESPACE KIND/NAME --to SUBJECT [--to SUBJECT...] --for 8h --reason TEXT [-o json]",
  summary:
    "Let people, groups or ServiceAccounts read a workload's pod logs for a while: one RoleBinding to the workload's managed Role, " +
    "which follows its pods across rollouts. The binding records its expiry, the reason and who granted it (the user the apiserver " +
    "authenticates you as); the controller deletes it when it expires. The apiserver only lets you bind the Role if you can read " +
    "those logs yourself or hold bind on it. Granting the same subjects again renews the grant.",
  flags: GRANT_FLAGS,
  parse: parseGrant,
  async execute(opts, program) {
    try {
      const { api, namespace } = connect(opts);
      const g = await grant(api, {
        namespace,
        kind: opts.kind,
        name: opts.name,
        subjects: opts.subjects,
        forMs: opts.forMs,
        reason: opts.reason,
      });
      if (g.advisory) process.stderr.write(`${g.advisory}\n`);
      if (opts.output === "json") await writeStdout(JSON.stringify(g, null, 2));
      else
        await writeStdout(
          `${g.renewed ? "Renewed" : "Granted"}: ${g.subjects.join(", ")} may read the logs of ${g.workload} in namespace ` +
            `${namespace} until ${g.expires} (RoleBinding ${g.binding}, reason: ${g.reason}, granted by ${g.grantedBy}).`,
        );
      return 0;
    } catch (err) {
      return failed(program, "grant", err);
    }
  },
});

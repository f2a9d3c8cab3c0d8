// Flags of grant, grants and revoke, each command one table.
import * as v from "valibot";
import { parseSubject, type Subject } from "../access/grants.ts";
import type { WorkloadKind } from "../access/kinds.ts";
import { parseWorkloadRef } from "../admin/workload-ref.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag } from "./common-flags.ts";
import { durationFlag, flag, parseFlagSet, type ValuesOf } from "./flag-set.ts";
import { UsageError } from "./flags.ts";

const subjectHelp = "group:NAME, user:NAME or sa:NAMESPACE/NAME. Groups and users that mean everyone (system:authenticated, system:unauthenticated, system:serviceaccounts, system:serviceaccounts:NS, system:anonymous) are refused.";

export const GRANT_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The workload's namespace. Default: the kubeconfig context's namespace."),
  to: flag({ name: "to", kind: "list", value: "SUBJECT", help: `Who may read the logs: ${subjectHelp} Repeat for several; they share one RoleBinding.` }, v.array(v.string())),
  forMs: flag(
    { name: "for", kind: "string", value: "DURATION", help: "Required. How long the grant lasts, e.g. 30m, 8h; at least 1s, in whole seconds. The controller deletes the RoleBinding when it expires." },
    v.optional(durationFlag({ name: "for", help: "" }, (ms) => (ms < 1000 || ms % 1000 !== 0 ? "--for must be a whole number of seconds, at least 1s, e.g. 30m or 8h" : undefined)).schema),
  ),
  reason: flag({ name: "reason", kind: "string", value: "TEXT", help: "Required. Why, e.g. a ticket: recorded on the RoleBinding." }, v.optional(v.string())),
  output: outputFlag(["json"]),
  help: helpFlag,
};

export const GRANTS_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The namespace. Default: the kubeconfig context's namespace."),
  output: outputFlag(["table", "json"], "table"),
  help: helpFlag,
};

export const REVOKE_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The namespace. Default: the kubeconfig context's namespace."),
  to: flag({ name: "to", kind: "string", value: "SUBJECT", help: `With KIND/NAME: take this subject out of the workload's grants (${subjectHelp.split(".")[0]}). A grant left without subjects is deleted.` }, v.optional(v.string())),
  name: flag({ name: "name", kind: "string", value: "BINDING", help: "Delete the grant RoleBinding of this name (as 'grants' shows it). Only bindings issued by podlogreader grant are deleted." }, v.optional(v.pipe(v.string(), v.minLength(1, "--name needs a RoleBinding name")))),
  output: outputFlag(["json"]),
  help: helpFlag,
};

type Ref = { kind: WorkloadKind; name: string };

function workloadRef(text: string | undefined): Ref | undefined {
  if (text === undefined) return undefined;
  const ref = parseWorkloadRef(text);
  if (!ref) throw new UsageError(`${JSON.stringify(text)} is not KIND/NAME with KIND one of deploy, sts, ds, rs, job, cronjob`);
  return ref;
}

function subject(text: string): Subject {
  const s = parseSubject(text);
  if ("error" in s) throw new UsageError(`--to ${s.error}`);
  return s;
}

export type GrantOptions = Omit<ValuesOf<typeof GRANT_FLAGS>, "to" | "forMs" | "reason"> & Ref & { command: "grant"; subjects: Subject[]; forMs: number; reason: string };
export type GrantsOptions = ValuesOf<typeof GRANTS_FLAGS> & { command: "grants"; workload?: Ref };
export type RevokeOptions = Omit<ValuesOf<typeof REVOKE_FLAGS>, "to" | "name"> & { command: "revoke"; target: { workload: Ref; subject: Subject } | { binding: string } };
type Help<C> = { command: C; help: true };

export function parseGrant(argv: string[]): GrantOptions | Help<"grant"> {
  const { values, positionals } = parseFlagSet(GRANT_FLAGS, argv, 1);
  if (values.help) return { command: "grant", help: true };
  const ref = workloadRef(positionals[0]);
  if (!ref) throw new UsageError("grant needs a workload, e.g. deploy/web");
  if (values.to.length === 0) throw new UsageError("--to is required: who may read the logs, e.g. --to group:frontend");
  const subjects = values.to.map(subject);
  if (values.forMs === undefined) throw new UsageError("--for is required: how long the grant lasts, e.g. --for 8h");
  const reason = values.reason?.trim();
  if (!reason) throw new UsageError("--reason is required: why, e.g. --reason INC-1234");
  const { to: _to, forMs, reason: _reason, ...rest } = values;
  return { ...rest, command: "grant", ...ref, subjects, forMs, reason };
}

export function parseGrants(argv: string[]): GrantsOptions | Help<"grants"> {
  const { values, positionals } = parseFlagSet(GRANTS_FLAGS, argv, 1);
  if (values.help) return { command: "grants", help: true };
  return { ...values, command: "grants", workload: workloadRef(positionals[0]) };
}

export function parseRevoke(argv: string[]): RevokeOptions | Help<"revoke"> {
  const { values, positionals } = parseFlagSet(REVOKE_FLAGS, argv, 1);
  if (values.help) return { command: "revoke", help: true };
  const { to, name, ...rest } = values;
  const ref = workloadRef(positionals[0]);
  if (name !== undefined) {
    if (ref || to !== undefined) throw new UsageError("--name goes alone: give either KIND/NAME --to SUBJECT or --name BINDING");
    return { ...rest, command: "revoke", target: { binding: name } };
  }
  if (!ref || to === undefined) throw new UsageError("revoke needs KIND/NAME --to SUBJECT, or --name BINDING");
  return { ...rest, command: "revoke", target: { workload: ref, subject: subject(to) } };
}

import { createHash } from "node:crypto";
import { KINDS, WORKLOAD_KINDS, type WorkloadKind } from "./kinds.ts";

export const NAME_PREFIX = "podlogreader-";
/** ServiceAccount names are DNS-1123 subdomains; Role and RoleBinding names have no tighter limit. */
const MAX_NAME = 253;
const HASH_LENGTH = 10;

/** Put before a Deployment's name when that name itself begins with a kind infix and '-'. */
export const DEPLOYMENT_INFIX = "deploy";

/** The infixes a managed name can begin with after the prefix: the other kinds' and `deploy`. */
export const RESERVED_INFIXES: readonly string[] = [
  DEPLOYMENT_INFIX,
  ...WORKLOAD_KINDS.flatMap((k) => KINDS[k].nameInfix ?? []),
];

function infixFor(kind: WorkloadKind, workloadName: string): string | undefined {
  const infix = KINDS[kind].nameInfix;
  if (infix) return infix;
  return RESERVED_INFIXES.some((r) => workloadName.startsWith(`${r}-`)) ? DEPLOYMENT_INFIX : undefined;
}

/**
 * The name of the Role, RoleBinding and ServiceAccount kept for a workload:
 * - `podlogreader-<infix>-<name>` for the kinds other than Deployment (infix sts, ds, rs, job,
 *   cronjob);
 * - `podlogreader-deploy-<name>` for a Deployment whose name begins with one of those infixes or
 *   `deploy`, followed by '-' (`sts-web`, `deploy-api`);
 * - `podlogreader-<name>` for every other Deployment.
 * So every non-Deployment name begins with exactly one infix segment and a plain Deployment name
 * with none, and two workloads of the same namespace never ask for the same name: not a
 * StatefulSet and a Deployment both called `web`, nor a Deployment `sts-web` and a StatefulSet
 * `web`. When the name would exceed 253 characters, it is a prefix of it plus a hash of the kind
 * and full name. The same workload always gets the same name, and it is a valid DNS-1123
 * subdomain whenever the workload's name is one.
 */
export function managedName(kind: WorkloadKind, workloadName: string): string {
  const infix = infixFor(kind, workloadName);
  const plain = `${NAME_PREFIX}${infix ? `${infix}-` : ""}${workloadName}`;
  if (plain.length <= MAX_NAME) return plain;
  const hash = createHash("sha256").update(`${kind}/${workloadName}`).digest("hex").slice(0, HASH_LENGTH);
  // Cut, then drop any trailing '-' or '.' so the result stays a valid DNS subdomain.
  const head = plain.slice(0, MAX_NAME - HASH_LENGTH - 1).replace(/[-.]+$/, "");
  return `${head}-${hash}`;
}

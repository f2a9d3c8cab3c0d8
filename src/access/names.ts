import { createHash } from "node:crypto";
import { KINDS, WORKLOAD_KINDS, type WorkloadKind } from "./kinds.ts";

export const NAME_PREFIX = "podlogreader-";
/** ServiceAccount names are DNS-1123 subdomains; Role and RoleBinding names have no tighter limit. */
const MAX_NAME = 253;
const HASH_LENGTH = 10;

/** Put before a Deployment's name when that name itself begins with a reserved infix and '-'. */
export const DEPLOYMENT_INFIX = "deploy";
/** Begins every shortened name, and no name that was not shortened. */
export const SHORTENED_INFIX = "hashed";

/** The infixes a managed name can begin with after the prefix: the other kinds', `deploy` and `hashed`. */
export const RESERVED_INFIXES: readonly string[] = [
  DEPLOYMENT_INFIX,
  SHORTENED_INFIX,
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
 * - `podlogreader-deploy-<name>` for a Deployment whose name begins with one of those infixes,
 *   `deploy` or `hashed`, followed by '-' (`sts-web`, `deploy-api`);
 * - `podlogreader-<name>` for every other Deployment;
 * - when that would exceed 253 characters: `podlogreader-hashed-<its first part>-<10 hex digits>`,
 *   the digits a hash of the kind and full name.
 * So every non-Deployment name begins with exactly one kind infix, a plain Deployment name with
 * none, and only shortened names with `hashed-`: two workloads of the same namespace never ask for
 * the same name (short of a 40-bit hash collision between two shortened names). The same workload
 * always gets the same name, and it is a valid DNS-1123 subdomain whenever the workload's name is one.
 */
export function managedName(kind: WorkloadKind, workloadName: string): string {
  const infix = infixFor(kind, workloadName);
  const plain = `${infix ? `${infix}-` : ""}${workloadName}`;
  if (NAME_PREFIX.length + plain.length <= MAX_NAME) return `${NAME_PREFIX}${plain}`;
  const hash = createHash("sha256").update(`${kind}/${workloadName}`).digest("hex").slice(0, HASH_LENGTH);
  const shortened = `${NAME_PREFIX}${SHORTENED_INFIX}-`;
  // Cut, then drop any trailing '-' or '.' so the result stays a valid DNS subdomain.
  const head = plain.slice(0, MAX_NAME - shortened.length - HASH_LENGTH - 1).replace(/[-.]+$/, "");
  return `${shortened}${head}-${hash}`;
}

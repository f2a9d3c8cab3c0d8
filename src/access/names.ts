import { createHash } from "node:crypto";
import { KINDS, type WorkloadKind } from "./kinds.ts";

export const NAME_PREFIX = "podlogreader-";
/** ServiceAccount names are DNS-1123 subdomains; Role and RoleBinding names have no tighter limit. */
const MAX_NAME = 253;
const HASH_LENGTH = 10;

/**
 * The name of the Role, RoleBinding and ServiceAccount kept for a workload: `podlogreader-<name>`
 * for a Deployment, `podlogreader-<infix>-<name>` for the other kinds (sts, ds, rs, job, cronjob),
 * so a StatefulSet and a Deployment both called `web` never share one. When that would exceed 253
 * characters, a prefix of it plus a hash of the kind and full name. The same workload always gets
 * the same name.
 */
export function managedName(kind: WorkloadKind, workloadName: string): string {
  const infix = KINDS[kind].nameInfix;
  const plain = `${NAME_PREFIX}${infix ? `${infix}-` : ""}${workloadName}`;
  if (plain.length <= MAX_NAME) return plain;
  const hash = createHash("sha256").update(`${kind}/${workloadName}`).digest("hex").slice(0, HASH_LENGTH);
  // Cut, then drop any trailing '-' or '.' so the result stays a valid DNS subdomain.
  const head = plain.slice(0, MAX_NAME - HASH_LENGTH - 1).replace(/[-.]+$/, "");
  return `${head}-${hash}`;
}

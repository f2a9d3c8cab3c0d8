import { createHash } from "node:crypto";

export const NAME_PREFIX = "podlogreader-";
/** ServiceAccount names are DNS-1123 subdomains; Role and RoleBinding names have no tighter limit. */
const MAX_NAME = 253;
const HASH_LENGTH = 10;

/**
 * The name of the Role, RoleBinding and ServiceAccount kept for a Deployment: `podlogreader-<name>`,
 * or, when that would exceed 253 characters, a prefix of it plus a hash of the full name. The same
 * workload always gets the same name, and distinct names never share one.
 */
export function managedName(workloadName: string): string {
  const plain = NAME_PREFIX + workloadName;
  if (plain.length <= MAX_NAME) return plain;
  const hash = createHash("sha256").update(workloadName).digest("hex").slice(0, HASH_LENGTH);
  // Cut, then drop any trailing '-' or '.' so the result stays a valid DNS subdomain.
  const head = plain.slice(0, MAX_NAME - HASH_LENGTH - 1).replace(/[-.]+$/, "");
  return `${head}-${hash}`;
}

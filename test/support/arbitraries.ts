// fast-check arbitraries for Kubernetes names, shared by the property tests in test/unit.
import fc from "fast-check";
import type { WorkloadKind } from "../../src/access/kinds.ts";

/** Stated here rather than read from src, so the tests say what the names must be. */
export const KIND_INFIXES = [
  ["StatefulSet", "sts"],
  ["DaemonSet", "ds"],
  ["ReplicaSet", "rs"],
  ["Job", "job"],
  ["CronJob", "cronjob"],
] as const satisfies readonly (readonly [WorkloadKind, string])[];
export const DEPLOYMENT_INFIX = "deploy";
export const SHORTENED_INFIX = "hashed";
export const RESERVED_INFIXES = [DEPLOYMENT_INFIX, SHORTENED_INFIX, ...KIND_INFIXES.map(([, infix]) => infix)];

export const ALL_KINDS: readonly WorkloadKind[] = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"];
export const kind = fc.constantFrom(...ALL_KINDS);

/** What IsDNS1123Subdomain in Kubernetes accepts. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s);
}

/** Cut to `max` characters, dropping what would leave a trailing '-' or '.'. */
const cut = (s: string, max: number) => s.slice(0, max).replace(/[-.]+$/, "");

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
// Half the time from a tiny alphabet, so that names coincide often enough to matter.
const alnumChar = fc.oneof(fc.constantFrom(..."ab0"), fc.constantFrom(...ALNUM));
const run = (maxLength: number) => fc.string({ unit: alnumChar, minLength: 1, maxLength });
const separator = fc.oneof(
  { weight: 4, arbitrary: fc.constant("-") },
  { weight: 2, arbitrary: fc.constant(".") },
  { weight: 1, arbitrary: fc.constant("--") },
);

/**
 * A DNS-1123 subdomain of at most `maxLength` characters: runs of [a-z0-9] joined by '.' or by
 * runs of '-', which is exactly the language Kubernetes accepts for most object names.
 */
export function subdomain(maxLength = 253): fc.Arbitrary<string> {
  return fc
    .tuple(run(12), fc.array(fc.tuple(separator, run(12)), { maxLength: 5 }))
    .map(([first, rest]) => cut(first + rest.map(([s, r]) => s + r).join(""), maxLength));
}

/** A subdomain of 200 to 253 characters, where managed names have to be shortened. */
export const longSubdomain: fc.Arbitrary<string> = fc
  .tuple(subdomain(40), fc.constantFrom("-", ".", ""), fc.integer({ min: 200, max: 253 }))
  .map(([base, sep, length]) => {
    let s = base;
    while (s.length < length) s += sep + base;
    return cut(s, length);
  });

/** Names that begin with a kind infix (or something close to one): `sts-web`, `deploy.x`, `jobs`. */
export const infixedName: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...RESERVED_INFIXES, "deployment", "stsx", "d", "cron"),
    fc.constantFrom("-", "--", ".", ""),
    fc.oneof(subdomain(), longSubdomain),
  )
  .map(([infix, sep, rest]) => cut(infix + sep + rest, 253));

/** The names people give workloads. */
export const realisticName = fc.constantFrom(
  "web",
  "api",
  "nginx-deployment",
  "db",
  "redis-master",
  "payments.v2",
  "sts-web",
  "ds-agent",
  "job-runner",
  "cronjob-backup",
  "deploy-api",
  "rs",
  "sts",
  "deploy",
  "a",
  "0",
);

/** Any workload name: realistic, random, near the length limit, or beginning with an infix. */
export const workloadName: fc.Arbitrary<string> = fc.oneof(realisticName, subdomain(), longSubdomain, infixedName);

export interface Named {
  kind: WorkloadKind;
  name: string;
}
export const namedWorkload: fc.Arbitrary<Named> = fc.record({ kind, name: workloadName });

/**
 * Two workloads whose managed names are most likely to coincide if anything is wrong: a Deployment
 * `sts-x` and a StatefulSet `x`, a Deployment `deploy-x` and a Deployment `x`, one name under two
 * kinds, two long names with a common beginning, or two picks from a tiny pool.
 */
export const likelyCollision: fc.Arbitrary<[Named, Named]> = fc.oneof(
  fc.tuple(fc.constantFrom(...KIND_INFIXES), workloadName).map(([[k, infix], x]): [Named, Named] => [
    { kind: "Deployment", name: cut(`${infix}-${x}`, 253) },
    { kind: k, name: x },
  ]),
  fc.tuple(workloadName, fc.constantFrom("-", "--")).map(([x, sep]): [Named, Named] => [
    { kind: "Deployment", name: cut(`${DEPLOYMENT_INFIX}${sep}${x}`, 253) },
    { kind: "Deployment", name: x },
  ]),
  fc.tuple(kind, kind, workloadName).map(([a, b, x]): [Named, Named] => [
    { kind: a, name: x },
    { kind: b, name: x },
  ]),
  fc.tuple(kind, kind, longSubdomain, subdomain(30), subdomain(30)).map(([a, b, base, x, y]): [Named, Named] => {
    const common = cut(base, 222);
    return [
      { kind: a, name: `${common}-${x}` },
      { kind: b, name: `${common}-${y}` },
    ];
  }),
  fc
    .tuple(kind, kind, fc.constantFrom("x", "sts-x", "deploy-x", "deploy-sts-x", "job-x", "cronjob-x", "sts", "deploy"))
    .chain(([a, b, x]) =>
      fc.constantFrom("x", "sts-x", "deploy-x", "deploy-sts-x", "job-x", "cronjob-x", "sts", "deploy").map((y): [Named, Named] => [
        { kind: a, name: x },
        { kind: b, name: y },
      ]),
    ),
);

// The names podlogreader gives the Role, RoleBinding and ServiceAccount of a workload, as properties.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { desiredAccess } from "../../../src/access/desired.ts";
import type { WorkloadKind } from "../../../src/access/kinds.ts";
import { managedName } from "../../../src/access/names.ts";
import {
  DEPLOYMENT_INFIX,
  SHORTENED_INFIX,
  isDns1123Subdomain,
  KIND_INFIXES,
  kind,
  likelyCollision,
  longSubdomain,
  namedWorkload,
  RESERVED_INFIXES,
  workloadName,
  type Named,
} from "../../support/arbitraries.ts";

const runs = { numRuns: 300 };
const PREFIX = "podlogreader-";
const sameWorkload = (a: Named, b: Named) => a.kind === b.kind && a.name === b.name;

/** Reads the kind and the workload's name back from a managed name that was not shortened. */
function readBack(managed: string): Named {
  const rest = managed.slice(PREFIX.length);
  for (const [k, infix] of KIND_INFIXES) if (rest.startsWith(`${infix}-`)) return { kind: k, name: rest.slice(infix.length + 1) };
  if (rest.startsWith(`${SHORTENED_INFIX}-`)) throw new Error(`${managed} was shortened`);
  if (rest.startsWith(`${DEPLOYMENT_INFIX}-`)) return { kind: "Deployment", name: rest.slice(DEPLOYMENT_INFIX.length + 1) };
  return { kind: "Deployment", name: rest };
}

describe("managed names are valid names for every object they are given to", () => {
  test("a Role, a RoleBinding and a ServiceAccount accept the name: a DNS-1123 subdomain of at most 253 characters", () => {
    fc.assert(
      fc.property(namedWorkload, ({ kind, name }) => {
        const managed = managedName(kind, name);
        expect(managed.length).toBeLessThanOrEqual(253);
        expect(isDns1123Subdomain(managed)).toBe(true);
        expect(managed.startsWith(PREFIX)).toBe(true);
      }),
      runs,
    );
  });

  test("the Role, the RoleBinding, its roleRef and subject, and the ServiceAccount all carry that one name", () => {
    fc.assert(
      fc.property(namedWorkload, ({ kind, name }) => {
        const workload = { kind, name, namespace: "ns", uid: "u" };
        const { role, roleBinding, serviceAccount } = desiredAccess(workload, [], {
          podVisibility: "namespace",
          createServiceAccountAndRoleBinding: true,
        });
        const managed = managedName(kind, name);
        expect([role.metadata.name, roleBinding!.metadata.name, serviceAccount!.metadata.name, roleBinding!.roleRef.name]).toEqual(
          Array(4).fill(managed),
        );
        expect(roleBinding!.subjects).toEqual([{ kind: "ServiceAccount", name: managed, namespace: "ns" }]);
      }),
      { numRuns: 100 },
    );
  });
});

describe("managed names are deterministic", () => {
  test("the same workload always gets the same name, whatever was named in between", () => {
    fc.assert(
      fc.property(namedWorkload, fc.array(namedWorkload, { maxLength: 5 }), (w, others) => {
        const first = managedName(w.kind, w.name);
        for (const o of others) managedName(o.kind, o.name);
        // A copy of the name, not the same string object.
        expect(managedName(w.kind, [...w.name].join(""))).toBe(first);
      }),
      runs,
    );
  });
});

describe("managed names never collide", () => {
  test("two different workloads likely to clash (Deployment sts-x and StatefulSet x, ...) get different names", () => {
    fc.assert(
      fc.property(likelyCollision, ([a, b]) => {
        fc.pre(!sameWorkload(a, b));
        expect(managedName(a.kind, a.name)).not.toBe(managedName(b.kind, b.name));
      }),
      { numRuns: 1000 },
    );
  });

  test("two arbitrary different workloads get different names", () => {
    fc.assert(
      fc.property(namedWorkload, namedWorkload, (a, b) => {
        fc.pre(!sameWorkload(a, b));
        expect(managedName(a.kind, a.name)).not.toBe(managedName(b.kind, b.name));
      }),
      runs,
    );
  });

  test("a name that was not shortened tells the kind and the workload's name it was made for", () => {
    // 232 = 253 - "podlogreader-cronjob-".length: no name this short is ever shortened.
    fc.assert(
      fc.property(
        namedWorkload.filter((w) => w.name.length <= 232),
        ({ kind, name }) => {
          expect(readBack(managedName(kind, name))).toEqual({ kind, name });
        },
      ),
      runs,
    );
  });
});

describe("the shape of a managed name", () => {
  const infixOf = (k: WorkloadKind) => KIND_INFIXES.find(([kk]) => kk === k)?.[1];
  /** `podlogreader-[<infix>-]<name>`, as the README states it. */
  function plainName(k: WorkloadKind, name: string): string {
    const infix = infixOf(k) ?? (RESERVED_INFIXES.some((i) => name.startsWith(`${i}-`)) ? DEPLOYMENT_INFIX : undefined);
    return `${PREFIX}${infix ? `${infix}-` : ""}${name}`;
  }

  /** The part that tells the kind: after the prefix, and after `hashed-` in a shortened name. */
  const afterMarks = (managed: string) => managed.slice(PREFIX.length).replace(new RegExp(`^${SHORTENED_INFIX}-`), "");

  test("a workload of a kind other than Deployment gets podlogreader-[hashed-]<its infix>-, whatever its name", () => {
    fc.assert(
      fc.property(
        kind.filter((k) => k !== "Deployment"),
        workloadName,
        (k, name) => {
          expect(afterMarks(managedName(k, name)).startsWith(`${infixOf(k)}-`)).toBe(true);
        },
      ),
      runs,
    );
  });

  test("a Deployment gets podlogreader-deploy-<name> exactly when its name begins with a kind infix and '-'", () => {
    fc.assert(
      fc.property(workloadName, (name) => {
        const reserved = RESERVED_INFIXES.some((infix) => name.startsWith(`${infix}-`));
        const managed = afterMarks(managedName("Deployment", name));
        if (reserved) expect(managed.startsWith(`${DEPLOYMENT_INFIX}-`)).toBe(true);
        // A plain Deployment name never begins with an infix and '-': that room is the other kinds'.
        else expect(RESERVED_INFIXES.some((infix) => managed.startsWith(`${infix}-`))).toBe(false);
      }),
      runs,
    );
  });

  test(
    "a name that fits is podlogreader-[<infix>-]<name>; a longer one is podlogreader-hashed- and the first 222 characters after the " +
      "prefix (less a trailing '-' or '.'), then '-' and 10 hex digits",
    () => {
      fc.assert(
        fc.property(kind, fc.oneof(workloadName, longSubdomain), (k, name) => {
          const plain = plainName(k, name);
          const managed = managedName(k, name);
          if (plain.length <= 253) {
            expect(managed).toBe(plain);
            return;
          }
          expect(managed).toMatch(/-[0-9a-f]{10}$/);
          expect(managed.length).toBeLessThanOrEqual(253);
          expect(managed.slice(0, -11)).toBe(
            `${PREFIX}${SHORTENED_INFIX}-${plain.slice(PREFIX.length, PREFIX.length + 222).replace(/[-.]+$/, "")}`,
          );
        }),
        runs,
      );
    },
  );

  test("shortened names and names that fit are disjoint: only shortened names begin with podlogreader-hashed-", () => {
    fc.assert(
      fc.property(kind, fc.oneof(workloadName, longSubdomain), (k, name) => {
        const shortened = plainName(k, name).length > 253;
        expect(managedName(k, name).startsWith(`${PREFIX}${SHORTENED_INFIX}-`)).toBe(shortened);
      }),
      runs,
    );
  });

  test("no workload's name that fits equals another workload's shortened name, even one built from it", () => {
    fc.assert(
      fc.property(kind, longSubdomain, kind, fc.nat(30), (k, long, other, cut) => {
        const shortened = managedName(k, long);
        fc.pre(shortened.startsWith(`${PREFIX}${SHORTENED_INFIX}-`));
        // The names an attacker would try: the shortened name's tail, with and without the marker.
        const tail = shortened.slice(PREFIX.length);
        for (const candidate of [tail, tail.slice(SHORTENED_INFIX.length + 1), tail.slice(cut)]) {
          if (!candidate || !isDns1123Subdomain(candidate)) continue;
          if (other === k && candidate === long) continue;
          expect(managedName(other, candidate)).not.toBe(shortened);
        }
      }),
      runs,
    );
  });
});

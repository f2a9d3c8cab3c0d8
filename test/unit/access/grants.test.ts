// Grants: who is bound to a workload's managed Role and why, how a grant is named and marked, when
// it has expired, and which subjects can never be granted. Pure functions, tables and properties.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  boundSubjects,
  desiredGrant,
  formatSubject,
  grantName,
  isExpired,
  isGrant,
  isGrantFor,
  meansEveryone,
  parseSubject,
  revokeFrom,
  type Subject,
} from "../../../src/access/grants.ts";
import { managedName } from "../../../src/access/names.ts";
import { explainRefusal } from "../../../src/admin/grants/grant.ts";
import { grantsTableRows } from "../../../src/admin/grants/list.ts";
import { ApiError } from "../../../src/kube/transport.ts";
import { parseGrant } from "../../../src/commands/grant.ts";
import { parseGrants } from "../../../src/commands/grants.ts";
import { commandHelp, splitCommand } from "../../../src/commands/registry.ts";
import { parseRevoke } from "../../../src/commands/revoke.ts";
import { UsageError } from "../../../src/flags/parse.ts";
import type { ObjectMeta, RoleBinding } from "../../../src/kube/objects.ts";
import { isDns1123Subdomain, kind, namedWorkload } from "../../support/arbitraries.ts";

const T0 = Date.parse("2026-12-04T12:00:00Z");
const web = { kind: "Deployment" as const, name: "web" };
const frontend: Subject = { kind: "Group", name: "frontend" };
const alice: Subject = { kind: "User", name: "alice@example.com" };

/** A grant as `podlogreader grant` writes it, parsed back as the API returns it. */
function grantBinding(subjects: Subject[], over: { expiresAtMs?: number; workload?: typeof web; uid?: string } = {}): RoleBinding {
  const w = over.workload ?? web;
  const body = desiredGrant({
    namespace: "ns",
    ...w,
    subjects,
    roleUid: "role-uid",
    expiresAtMs: over.expiresAtMs ?? T0 + 3600_000,
    reason: "INC-1234",
    grantedBy: "admin",
  });
  return { ...body, metadata: { ...body.metadata, uid: over.uid ?? "b-uid", resourceVersion: "7" } };
}

/** The RoleBinding the controller keeps for the managed ServiceAccount of `web`. */
const managedBinding: RoleBinding = {
  metadata: {
    name: "podlogreader-web",
    namespace: "ns",
    uid: "m",
    resourceVersion: "1",
    labels: { "app.kubernetes.io/managed-by": "podlogreader" },
    annotations: { "podlogreader.dev/workload": "Deployment/web" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "w", controller: true }],
  },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-web" },
  subjects: [{ kind: "ServiceAccount", name: "podlogreader-web", namespace: "ns" }],
};
const foreignBinding = (name: string, roleName = "podlogreader-web"): RoleBinding => ({
  metadata: { name, namespace: "ns", uid: name, resourceVersion: "1" },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
  subjects: [
    { kind: "User", name: "bob", apiGroup: "rbac.authorization.k8s.io" },
    { kind: "ServiceAccount", name: "ci" },
  ],
});

describe("parseSubject: group:NAME, user:NAME, sa:NS/NAME", () => {
  test.each([
    ["group:frontend", { kind: "Group", name: "frontend" }],
    ["user:alice@example.com", { kind: "User", name: "alice@example.com" }],
    ["user:system:serviceaccount:ns:x", { kind: "User", name: "system:serviceaccount:ns:x" }],
    ["sa:team-a/ci", { kind: "ServiceAccount", namespace: "team-a", name: "ci" }],
  ])("%s", (text, subject) => {
    expect(parseSubject(text)).toEqual(subject as Subject);
  });

  test.each([
    ["frontend", "is not group:NAME"],
    ["role:x", "is not group:NAME"],
    ["group:", "empty"],
    ["user: alice", "spaces"],
    ["sa:ci", "sa:NAMESPACE/NAME"],
    ["sa:Team/ci", "sa:NAMESPACE/NAME"],
    ["sa:ns/", "sa:NAMESPACE/NAME"],
  ])("%s is refused: %s", (text, why) => {
    const parsed = parseSubject(text);
    expect("error" in parsed && parsed.error).toContain(why);
  });

  test.each([
    "group:system:authenticated",
    "group:system:unauthenticated",
    "group:system:serviceaccounts",
    "group:system:serviceaccounts:kube-system",
    "user:system:anonymous",
  ])("%s means everyone and is refused", (text) => {
    const parsed = parseSubject(text);
    expect("error" in parsed && parsed.error).toContain("means everyone");
  });

  test("groups that only look alike are people, not everyone", () => {
    for (const name of ["system:authenticated-admins", "authenticated", "system:masters", "system:serviceaccount"])
      expect(meansEveryone({ kind: "Group", name })).toBe(false);
  });

  test("formatSubject reads back what parseSubject took", () => {
    for (const text of ["group:frontend", "user:alice@example.com", "sa:team-a/ci"])
      expect(formatSubject(parseSubject(text) as Subject)).toBe(text);
  });
});

describe("grantName", () => {
  const subject = fc.oneof(
    fc.record({ kind: fc.constantFrom("User" as const, "Group" as const), name: fc.string({ minLength: 1, maxLength: 20 }) }),
    fc.record({ kind: fc.constant("ServiceAccount" as const), namespace: fc.constantFrom("a", "b"), name: fc.constantFrom("x", "y") }),
  );

  test("contains ':', so it is never a managed name, and begins with the workload's managed name", () => {
    fc.assert(
      fc.property(namedWorkload, fc.array(subject, { minLength: 1, maxLength: 3 }), ({ kind: k, name }, subjects) => {
        const n = grantName(k, name, subjects);
        expect(n).toContain(":");
        expect(n.startsWith(`${managedName(k, name)}:grant-`)).toBe(true);
        expect(isDns1123Subdomain(n)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  test("the same workload and subjects, in any order, name the same grant; other subjects another", () => {
    fc.assert(
      fc.property(kind, fc.array(subject, { minLength: 1, maxLength: 4 }), subject, (k, subjects, other) => {
        expect(grantName(k, "web", [...subjects].reverse())).toBe(grantName(k, "web", subjects));
        const keys = new Set(subjects.map(formatSubject));
        if (!keys.has(formatSubject(other))) expect(grantName(k, "web", [...subjects, other])).not.toBe(grantName(k, "web", subjects));
      }),
      { numRuns: 200 },
    );
  });

  test("two workloads never share a grant name", () => {
    fc.assert(
      fc.property(namedWorkload, namedWorkload, (a, b) => {
        if (a.kind === b.kind && a.name === b.name) return;
        expect(grantName(a.kind, a.name, [frontend])).not.toBe(grantName(b.kind, b.name, [frontend]));
      }),
      { numRuns: 200 },
    );
  });
});

describe("desiredGrant: a RoleBinding to the managed Role, marked as a grant", () => {
  const b = grantBinding([frontend, alice, { kind: "ServiceAccount", namespace: "ci", name: "bot" }], {
    expiresAtMs: T0 + 8 * 3600_000 + 400,
  });

  test("binds the workload's managed Role, owned by that Role's uid", () => {
    expect(b.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-web" });
    expect(b.metadata.ownerReferences).toEqual([
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "podlogreader-web", uid: "role-uid" },
    ]);
  });

  test("records expiry (RFC 3339 UTC, to the second), reason and who granted it; never the managed-by label", () => {
    expect(b.metadata.annotations).toEqual({
      "podlogreader.dev/workload": "Deployment/web",
      "podlogreader.dev/expires": "2026-12-04T20:00:00Z",
      "podlogreader.dev/reason": "INC-1234",
      "podlogreader.dev/granted-by": "admin",
    });
    expect(b.metadata.labels).toEqual({ "podlogreader.dev/grant": "true" });
  });

  test("subjects as RBAC writes them", () => {
    expect(b.subjects).toEqual([
      { kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "frontend" },
      { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "alice@example.com" },
      { kind: "ServiceAccount", namespace: "ci", name: "bot" },
    ]);
  });

  test("is a grant for its workload only", () => {
    expect(isGrantFor(b, web)).toBe(true);
    expect(isGrantFor(b, { kind: "StatefulSet", name: "web" })).toBe(false);
    expect(isGrantFor(b, { kind: "Deployment", name: "api" })).toBe(false);
  });
});

describe("isGrant: only bindings with every grant mark", () => {
  const g = grantBinding([frontend]);
  test.each([
    ["as issued", g, true],
    ["without the label", { ...g, metadata: { ...g.metadata, labels: {} } }, false],
    ["the managed ServiceAccount's binding", managedBinding, false],
    ["a binding made by hand", foreignBinding("by-hand"), false],
    [
      "the label on a binding made by hand, without the owner",
      { ...foreignBinding("copy"), metadata: { ...foreignBinding("copy").metadata, labels: { "podlogreader.dev/grant": "true" } } },
      false,
    ],
    [
      "an owner that is another Role",
      {
        ...g,
        metadata: {
          ...g.metadata,
          ownerReferences: [{ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "other", uid: "x" }],
        },
      },
      false,
    ],
    ["a roleRef to a ClusterRole", { ...g, roleRef: { ...g.roleRef, kind: "ClusterRole" } }, false],
  ])("%s: %p", (_, binding, expected) => {
    expect(isGrant(binding as RoleBinding)).toBe(expected);
  });
});

describe("isExpired at time T", () => {
  const at = (expires: string | undefined): ObjectMeta => ({
    name: "g",
    namespace: "ns",
    uid: "u",
    resourceVersion: "1",
    annotations: expires === undefined ? {} : { "podlogreader.dev/expires": expires },
  });
  test.each([
    ["a second before", "2026-12-04T12:00:01Z", false],
    ["at the instant", "2026-12-04T12:00:00Z", true],
    ["after", "2026-12-04T11:59:59Z", true],
    ["an offset: 13:00+02:00 is 11:00Z, past", "2026-12-04T13:00:00+02:00", true],
    ["an offset: 07:00:01-05:00 is 12:00:01Z, ahead", "2026-12-04T07:00:01-05:00", false],
    ["missing: fail closed", undefined, true],
    ["not a time: fail closed", "tomorrow", true],
    ["not RFC 3339: fail closed", "12/05/2026", true],
  ])("%s: %s -> %p", (_, expires, expired) => {
    expect(isExpired(at(expires), T0)).toBe(expired);
  });

  test("a grant is live for exactly its duration", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 6 }), fc.integer({ min: 0, max: 2 * 10 ** 6 }), (forSeconds, elapsedSeconds) => {
        const g = grantBinding([frontend], { expiresAtMs: T0 + forSeconds * 1000 });
        expect(isExpired(g.metadata, T0 + elapsedSeconds * 1000)).toBe(elapsedSeconds >= forSeconds);
      }),
    );
  });
});

describe("boundSubjects: who is bound to a workload's Role, and where the binding came from", () => {
  const grant = grantBinding([frontend, alice]);
  const expired = grantBinding([{ kind: "User", name: "carol" }], { expiresAtMs: T0 - 1000, uid: "old" });
  const other = grantBinding([frontend], { workload: { kind: "Deployment", name: "api" } });
  const bound = boundSubjects(
    [managedBinding, grant, expired, other, foreignBinding("by-hand"), foreignBinding("elsewhere", "podlogreader-api")],
    web,
    T0,
  );

  test("every subject of every binding of that Role, and none of another Role's", () => {
    expect(bound.map((b) => [b.binding.name, formatSubject(b.subject)])).toEqual([
      ["podlogreader-web", "sa:ns/podlogreader-web"],
      [grant.metadata.name, "group:frontend"],
      [grant.metadata.name, "user:alice@example.com"],
      [expired.metadata.name, "user:carol"],
      ["by-hand", "user:bob"],
      ["by-hand", "sa:ns/ci"],
    ]);
  });

  test("the controller's binding, grants with expiry, reason and granter, and the rest as foreign", () => {
    expect(bound.map((b) => b.source)).toEqual([
      { kind: "managed-service-account" },
      { kind: "grant", expires: "2026-12-04T13:00:00Z", expired: false, reason: "INC-1234", grantedBy: "admin" },
      { kind: "grant", expires: "2026-12-04T13:00:00Z", expired: false, reason: "INC-1234", grantedBy: "admin" },
      { kind: "grant", expires: "2026-12-04T11:59:59Z", expired: true, reason: "INC-1234", grantedBy: "admin" },
      { kind: "foreign" },
      { kind: "foreign" },
    ]);
  });

  test("a binding that only copies the managed name, without the marks, is foreign", () => {
    const copy = { ...managedBinding, metadata: { ...managedBinding.metadata, labels: {} } };
    expect(boundSubjects([copy], web, T0)[0]!.source).toEqual({ kind: "foreign" });
  });

  test("a grant of another workload's name pointed at this Role is foreign here", () => {
    const moved = { ...other, roleRef: grant.roleRef, metadata: { ...other.metadata, ownerReferences: grant.metadata.ownerReferences } };
    expect(boundSubjects([moved], web, T0)[0]!.source).toEqual({ kind: "foreign" });
  });
});

describe("revokeFrom", () => {
  test("the only subject: the binding goes", () => {
    expect(revokeFrom(grantBinding([frontend]), frontend)).toEqual({ action: "delete" });
  });
  test("one of several: the others stay", () => {
    expect(revokeFrom(grantBinding([frontend, alice]), frontend)).toEqual({
      action: "keep-others",
      subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "alice@example.com" }],
    });
  });
  test("a subject the grant does not name: nothing", () => {
    expect(revokeFrom(grantBinding([frontend]), alice)).toEqual({ action: "none" });
    expect(revokeFrom(grantBinding([frontend]), { kind: "User", name: "frontend" })).toEqual({ action: "none" });
  });
});

describe("grant and revoke flags", () => {
  const usage = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error("no UsageError");
  };

  test("grant takes the workload, subjects, duration and reason", () => {
    expect(
      parseGrant(["-n", "ns", "deploy/web", "--to", "group:frontend", "--to", "sa:ci/bot", "--for", "8h", "--reason", "INC-1234"]),
    ).toMatchObject({
      namespace: "ns",
      kind: "Deployment",
      name: "web",
      forMs: 8 * 3600_000,
      reason: "INC-1234",
      subjects: [frontend, { kind: "ServiceAccount", namespace: "ci", name: "bot" }],
    });
  });

  test.each([
    [["deploy/web", "--for", "1h", "--reason", "x"], "--to is required"],
    [["deploy/web", "--to", "group:a", "--reason", "x"], "--for is required"],
    [["deploy/web", "--to", "group:a", "--for", "1h"], "--reason is required"],
    [["deploy/web", "--to", "group:a", "--for", "1h", "--reason", "  "], "--reason is required"],
    [["deploy/web", "--to", "group:system:authenticated", "--for", "1h", "--reason", "x"], "means everyone"],
    [["deploy/web", "--to", "group:a", "--for", "1500ms", "--reason", "x"], "whole number of seconds"],
    [["--to", "group:a", "--for", "1h", "--reason", "x"], "needs a workload"],
    [["pod/web", "--to", "group:a", "--for", "1h", "--reason", "x"], "is not KIND/NAME"],
    [["deploy/web", "--to", "group:a", "--for", "1h", "--reason", "x", "--granted-by", "someone"], "unknown flag --granted-by"],
  ])("grant %j: %s", (argv, why) => {
    expect(usage(() => parseGrant(argv))).toContain(why);
  });

  test("revoke by workload and subject, or by binding name, never both", () => {
    expect(parseRevoke(["deploy/web", "--to", "user:alice"])).toMatchObject({
      target: { workload: web, subject: { kind: "User", name: "alice" } },
    });
    expect(parseRevoke(["--name", "podlogreader-web:grant-0123456789"])).toMatchObject({
      target: { binding: "podlogreader-web:grant-0123456789" },
    });
    expect(usage(() => parseRevoke(["deploy/web", "--name", "x"]))).toContain("--name goes alone");
    expect(usage(() => parseRevoke(["deploy/web"]))).toContain("revoke needs");
  });
});

describe("explainRefusal: one line for the person whose grant the apiserver refused", () => {
  const refusal = (status: number, reason: string, message: string) =>
    new ApiError("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings", status, reason, message);
  test.each([
    [
      "RBAC's escalation check",
      refusal(
        403,
        "Forbidden",
        'rolebindings.rbac.authorization.k8s.io "x" is forbidden: user "mallory" (groups=["system:authenticated"]) is attempting ' +
          'to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods/log"], ...}',
      ),
      "You can only grant what you hold: you need to be able to read these logs yourself (the permissions of Role " +
        "ns/podlogreader-web), or hold the verb bind on that Role.",
    ],
    [
      "no permission to write RoleBindings",
      refusal(403, "Forbidden", 'rolebindings.rbac.authorization.k8s.io is forbidden: User "bob" cannot create resource "rolebindings"'),
      "You need permission to create and update RoleBindings in namespace ns.",
    ],
    ["anything else is not explained away", refusal(422, "Invalid", "admission webhook denied the request"), undefined],
  ])("%s", (_, err, line) => {
    expect(explainRefusal(err, "ns", "podlogreader-web")).toBe(line);
  });
});

describe("the grants table", () => {
  test("a grant shows its expiry, marked when past; the others never expire", () => {
    expect(
      grantsTableRows([
        {
          namespace: "ns",
          workload: "Deployment/web",
          subject: "group:frontend",
          source: "grant",
          binding: "g",
          expires: "2026-12-04T13:00:00Z",
          expired: false,
          reason: "INC-1",
          grantedBy: "admin",
        },
        {
          namespace: "ns",
          workload: "Deployment/web",
          subject: "user:carol",
          source: "grant",
          binding: "h",
          expires: "2026-12-04T11:00:00Z",
          expired: true,
          reason: "INC-2",
          grantedBy: "admin",
        },
        { namespace: "ns", workload: "Deployment/web", subject: "user:bob", source: "foreign", binding: "by-hand" },
      ]),
    ).toEqual([
      ["Deployment/web", "group:frontend", "grant", "2026-12-04T13:00:00Z", "INC-1", "admin", "g"],
      ["Deployment/web", "user:carol", "grant", "2026-12-04T11:00:00Z (expired)", "INC-2", "admin", "h"],
      ["Deployment/web", "user:bob", "foreign", "never", "-", "-", "by-hand"],
    ]);
  });
});

describe("grant, grants and revoke on the command line", () => {
  test.each(["grant", "grants", "revoke"] as const)(
    "%s explains every flag in --help and takes kubectl's global flags before the command",
    (command) => {
      for (const flag of [
        "--kubeconfig",
        "--context",
        "--namespace",
        "--help",
        "--output",
        ...(command === "grants" ? [] : ["--to"]),
        ...(command === "grant" ? ["--for", "--reason"] : []),
        ...(command === "revoke" ? ["--name"] : []),
      ]) {
        expect(commandHelp(command)).toContain(flag);
      }
      expect(splitCommand(["-n", "ns", command, "deploy/web"])).toEqual({ command, args: ["deploy/web", "-n", "ns"] });
      expect({ grant: parseGrant, grants: parseGrants, revoke: parseRevoke }[command](["-h"])).toMatchObject({ help: true });
    },
  );
});

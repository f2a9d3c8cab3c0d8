// Bindings to people, as the audit judges them: grants past their expiry, grants that bind anything
// but their workload's managed Role, and bindings to a managed Role that podlogreader did not issue.
import { describe, expect, test } from "bun:test";
import { desiredGrant, GRANT_LABEL } from "../../../../src/access/grants.ts";
import { grantFindings, misdirection } from "../../../../src/admin/audit/grants.ts";
import type { ObjectMeta, RoleBinding } from "../../../../src/kube/objects.ts";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const HOUR = 3_600_000;
const RBAC = "rbac.authorization.k8s.io";

/** A Role podlogreader made for a Deployment. */
const managedRole = (workload: string, name = `podlogreader-${workload}`): { metadata: ObjectMeta } => ({
  metadata: {
    name,
    namespace: "shop",
    uid: `uid-${name}`,
    resourceVersion: "1",
    labels: { "app.kubernetes.io/managed-by": "podlogreader" },
    annotations: { "podlogreader.dev/workload": `Deployment/${workload}` },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: workload, uid: `d-${workload}`, controller: true }],
  },
});
const handRole = (name: string): { metadata: ObjectMeta } => ({
  metadata: { name, namespace: "shop", uid: `uid-${name}`, resourceVersion: "1" },
});

/** A grant exactly as `podlogreader grant` writes it. */
function grant(workload: string, expiresAtMs: number, to = [{ kind: "User" as const, name: "alice" }]): RoleBinding {
  const g = desiredGrant({
    namespace: "shop",
    kind: "Deployment",
    name: workload,
    subjects: to,
    roleUid: `uid-podlogreader-${workload}`,
    expiresAtMs,
    reason: "INC-1",
    grantedBy: "admin",
  });
  return { ...g, metadata: { ...g.metadata, uid: `b-${g.metadata.name}`, resourceVersion: "1" } };
}
const withRoleRef = (b: RoleBinding, kind: string, name: string): RoleBinding => ({ ...b, roleRef: { apiGroup: RBAC, kind, name } });
const handBinding = (name: string, role: string, subjects: RoleBinding["subjects"], labels?: Record<string, string>): RoleBinding => ({
  metadata: { name, namespace: "shop", uid: `b-${name}`, resourceVersion: "1", ...(labels ? { labels } : {}) },
  roleRef: { apiGroup: RBAC, kind: "Role", name: role },
  subjects,
});
/** The RoleBinding the controller keeps for the workload's own ServiceAccount. */
const controllerBinding = (workload: string): RoleBinding => ({
  ...handBinding(`podlogreader-${workload}`, `podlogreader-${workload}`, [
    { kind: "ServiceAccount", name: `podlogreader-${workload}`, namespace: "shop" },
  ]),
  metadata: { ...managedRole(workload).metadata, uid: `b-${workload}` },
});

const roles = [managedRole("web"), managedRole("other"), handRole("debug")];
const judge = (...roleBindings: RoleBinding[]) =>
  grantFindings({ roleBindings, roles }, NOW).map((f) => [f.kind, f.workload, f.subjects, f.detail]);

describe("grant findings", () => {
  test.each<[string, RoleBinding[], (string | string[] | undefined)[][]]>([
    ["a fresh grant", [grant("web", NOW + HOUR)], []],
    ["the controller's own binding", [controllerBinding("web")], []],
    [
      "a grant past its expiry",
      [grant("web", NOW - HOUR)],
      [["expired-grant", "Deployment/web", ["user:alice"], "expired at 2026-12-04T11:00:00Z"]],
    ],
    ["a grant expiring now", [grant("web", NOW)], [["expired-grant", "Deployment/web", ["user:alice"], "expired at 2026-12-04T12:00:00Z"]]],
    [
      "a grant whose expiry cannot be read",
      [
        {
          ...grant("web", NOW + HOUR),
          metadata: {
            ...grant("web", NOW + HOUR).metadata,
            annotations: { "podlogreader.dev/workload": "Deployment/web", "podlogreader.dev/expires": "tomorrow" },
          },
        },
      ],
      [["expired-grant", "Deployment/web", ["user:alice"], "has no readable expiry"]],
    ],
    [
      "a grant of a ClusterRole",
      [withRoleRef(grant("web", NOW + HOUR), "ClusterRole", "view")],
      [["misdirected-grant", "Deployment/web", ["user:alice"], "binds ClusterRole view, not a Role podlogreader manages"]],
    ],
    [
      "a grant of a Role podlogreader did not make",
      [withRoleRef(grant("web", NOW + HOUR), "Role", "debug")],
      [["misdirected-grant", "Deployment/web", ["user:alice"], "binds Role debug, which podlogreader did not make for Deployment/web"]],
    ],
    [
      "a grant of another workload's Role",
      [withRoleRef(grant("web", NOW + HOUR), "Role", "podlogreader-other")],
      [
        [
          "misdirected-grant",
          "Deployment/web",
          ["user:alice"],
          "binds Role podlogreader-other, which podlogreader did not make for Deployment/web",
        ],
      ],
    ],
    [
      "a grant without its ownerReference",
      [{ ...grant("web", NOW + HOUR), metadata: { ...grant("web", NOW + HOUR).metadata, ownerReferences: [] } }],
      [
        [
          "misdirected-grant",
          "Deployment/web",
          ["user:alice"],
          "binds Role podlogreader-web without an ownerReference to it: the controller will never end it",
        ],
      ],
    ],
    [
      "a grant label on a binding that names no workload",
      [handBinding("x", "podlogreader-web", [{ kind: "Group", name: "ops" }], { [GRANT_LABEL]: "true" })],
      [
        [
          "misdirected-grant",
          "unknown",
          ["group:ops"],
          "names no workload (annotation podlogreader.dev/workload), and binds Role podlogreader-web",
        ],
      ],
    ],
    [
      "a binding made by hand to a managed Role",
      [
        handBinding("web-debug", "podlogreader-web", [
          { kind: "User", name: "bob" },
          { kind: "ServiceAccount", name: "ci" },
        ]),
      ],
      [["unissued-binding", "Deployment/web", ["user:bob", "sa:shop/ci"], undefined]],
    ],
    [
      "a binding made by hand under the controller's own name, unmarked",
      [handBinding("podlogreader-web", "podlogreader-web", [{ kind: "User", name: "bob" }])],
      [["unissued-binding", "Deployment/web", ["user:bob"], undefined]],
    ],
    ["a binding made by hand to a Role podlogreader does not manage", [handBinding("debug", "debug", [{ kind: "User", name: "bob" }])], []],
  ])("%s", (_, bindings, expected) => {
    expect(judge(...bindings)).toEqual(expected);
  });

  test("every finding about a binding to people is an over-grant, and says who and by which binding", () => {
    const findings = grantFindings(
      {
        roleBindings: [
          grant("web", NOW - HOUR),
          withRoleRef(grant("other", NOW + HOUR), "ClusterRole", "admin"),
          handBinding("web-debug", "podlogreader-web", [{ kind: "User", name: "bob" }]),
        ],
        roles,
      },
      NOW,
    );
    expect(findings.map((f) => [f.kind, f.overGrant, f.serviceAccount, f.source])).toEqual([
      ["expired-grant", true, "podlogreader-web", "binding"],
      ["misdirected-grant", true, "podlogreader-other", "binding"],
      ["unissued-binding", true, "podlogreader-web", "binding"],
    ]);
    const [expired, misdirected, unissued] = findings.map((f) => f.message);
    expect(expired).toMatch(
      new RegExp(
        "^grant RoleBinding shop/podlogreader-web:grant-[0-9a-f]{10} \\(Role podlogreader-web\\) lets user:alice read " +
          "Deployment/web's pod logs, but expired at 2026-12-04T11:00:00Z: the controller is down or was refused$",
      ),
    );
    expect(misdirected).toMatch(
      new RegExp(
        "^grant RoleBinding shop/podlogreader-other:grant-[0-9a-f]{10} \\(ClusterRole admin\\) of user:alice " +
          "binds ClusterRole admin, not a Role podlogreader manages$",
      ),
    );
    expect(unissued).toBe(
      "RoleBinding shop/web-debug (Role podlogreader-web), not issued by podlogreader, lets user:bob read Deployment/web's pod " +
        "logs, with no expiry",
    );
  });

  test("a grant as the grant command writes it is not misdirected", () => {
    expect(misdirection(grant("web", NOW + HOUR), managedRole("web").metadata)).toBeUndefined();
    // Its Role gone: garbage collection follows its ownerReference; it binds nothing meanwhile.
    expect(misdirection(grant("web", NOW + HOUR), undefined)).toBeUndefined();
  });
});

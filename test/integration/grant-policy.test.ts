// The chart's grant policy (a ValidatingAdmissionPolicy) on the real apiserver: a RoleBinding that
// carries the grant label must name its maker, end within the maximum, give a reason and bind no
// group that means everyone, and an update can only narrow it. The policy is the chart's own,
// rendered by helm and applied. Each refusal is judged by what the apiserver still grants the
// subject afterwards; the last test takes the policy away and shows every refused binding is then
// accepted, so no refusal here is anything but the policy's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { desiredGrant, GRANT_LABEL, rfc3339, type Subject } from "../../src/access/grants.ts";
import { GRANT_POLICY_NAME } from "../../src/admin/grants/grant.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import {
  RoleBindings,
  Roles,
  ValidatingAdmissionPolicies,
  ValidatingAdmissionPolicyBindings,
  type ResourceType,
} from "../../src/kube/resources.ts";
import { ApiError, isNotFound } from "../../src/kube/transport.ts";
import { render } from "../support/chart.ts";
import { eventually, exists, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { testUser, userReadable, type TestUser } from "../support/users.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import { roleBinding, userSubject } from "../support/fixtures.ts";

const HOUR = 3600_000;
const MAX = 168 * HOUR;

let c: TestCluster;
let ns: string;
let controller: RunningController | undefined;
let alice: TestUser;
let mallory: TestUser;
let pods: string[];
let roleUid: string;

const policyObjects = () => render("pl", "podlogreader-system").filter((m) => m.metadata.name === GRANT_POLICY_NAME);

async function installPolicy(): Promise<void> {
  const objects = policyObjects();
  expect(objects.map((o) => o.kind).sort()).toEqual(["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
  for (const o of objects)
    await c.admin.create(
      o.kind === "ValidatingAdmissionPolicy" ? ValidatingAdmissionPolicies : ValidatingAdmissionPolicyBindings,
      undefined,
      o,
    );
  // The apiserver picks a new policy up from its own watch: wait until it refuses a forged grant.
  await eventually(
    "the policy to take effect",
    async () => {
      const r = await attempt(alice.api, grantBody("probe", [user("probe")], { grantedBy: "someone-else" }));
      if (r.ok) await c.admin.delete(RoleBindings, ns, r.name);
      return r.ok ? undefined : true;
    },
    30_000,
  );
}

async function removePolicy(): Promise<void> {
  for (const rt of [ValidatingAdmissionPolicyBindings, ValidatingAdmissionPolicies] as ResourceType[]) {
    await c.admin.delete(rt, undefined, GRANT_POLICY_NAME).catch(() => {});
  }
}

const user = (name: string): Subject => ({ kind: "User", name });
const person = (name: string) => ({ name, groups: [] as string[] });

/** A grant of deploy/web as `podlogreader grant` writes it, named `name`, with `changes` to its record. */
function grantBody(
  name: string,
  subjects: Subject[],
  changes: { grantedBy?: string; expiresAtMs?: number; reason?: string; annotations?: Record<string, string | null> } = {},
) {
  const body = desiredGrant({
    namespace: ns,
    kind: "Deployment",
    name: "web",
    subjects,
    roleUid,
    expiresAtMs: changes.expiresAtMs ?? Date.now() + HOUR,
    reason: changes.reason ?? "INC-1",
    grantedBy: changes.grantedBy ?? "alice",
  });
  const annotations: Record<string, string> = { ...body.metadata.annotations };
  for (const [k, v] of Object.entries(changes.annotations ?? {})) {
    if (v === null) delete annotations[k];
    else annotations[k] = v;
  }
  return { ...body, metadata: { ...body.metadata, name: `${body.metadata.name}-${name}`, annotations } };
}

type Attempt = { ok: true; name: string } | { ok: false; status: number; message: string };

async function attempt(api: KubeApi, body: ReturnType<typeof grantBody>): Promise<Attempt> {
  try {
    await api.create(RoleBindings, ns, body);
    return { ok: true, name: body.metadata.name };
  } catch (err) {
    if (err instanceof ApiError) return { ok: false, status: err.status, message: err.message };
    throw err;
  }
}

/** What the policy must refuse, each written by alice, who may bind web's Role. */
const refused: [string, () => ReturnType<typeof grantBody>, string][] = [
  [
    "a forged granted-by",
    () => grantBody("forged", [user("forged")], { grantedBy: "bob" }),
    "granted-by must be the user who makes the grant: alice",
  ],
  [
    "a missing expiry",
    () => grantBody("noexpiry", [user("noexpiry")], { annotations: { "podlogreader.dev/expires": null } }),
    "must be an RFC 3339 time",
  ],
  [
    "an expiry that is not RFC 3339",
    () => grantBody("badtime", [user("badtime")], { annotations: { "podlogreader.dev/expires": "tomorrow" } }),
    "must be an RFC 3339 time",
  ],
  [
    "an expiry beyond the maximum",
    () => grantBody("toolong", [user("toolong")], { expiresAtMs: Date.now() + MAX + HOUR }),
    "at most 168h after the grant is created",
  ],
  ["a grant to system:authenticated", () => grantBody("everyone", [{ kind: "Group", name: "system:authenticated" }]), "means everyone"],
  [
    "a grant to every ServiceAccount of a namespace",
    () => grantBody("sas", [{ kind: "Group", name: `system:serviceaccounts:${ns}` }]),
    "means everyone",
  ],
  ["a grant to system:anonymous", () => grantBody("anon", [user("system:anonymous")]), "means everyone"],
  [
    "a missing reason",
    () => grantBody("noreason", [user("noreason")], { annotations: { "podlogreader.dev/reason": null } }),
    "needs a reason",
  ],
  ["a blank reason", () => grantBody("blank", [user("blank")], { reason: "  " }), "needs a reason"],
];

/** Who the refused bindings would have let read web's logs: users, or for a group, a member of it. */
const readerOf = (body: ReturnType<typeof grantBody>) =>
  body.subjects.map((s) => (s.kind === "Group" ? { name: "someone", groups: [s.name] } : person(s.name)));

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("grant-policy");
  alice = await testUser("alice", ["frontend"], ns);
  mallory = await testUser("mallory", [], ns);
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 1 });
  pods = await waitForPods(ns, "web", 1);
  await expectReadable(ns, "podlogreader-web", pods);
  roleUid = ((await c.admin.get(Roles, ns, "podlogreader-web")) as { metadata: { uid: string } }).metadata.uid;
  // alice and mallory may write RoleBindings here and bind web's Role: RBAC's escalation check
  // lets them grant it, so only the policy holds them to the record.
  await c.admin.create(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "granter" },
    rules: [
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["get", "list", "create", "update", "delete"] },
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get", "list"] },
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["bind"], resourceNames: ["podlogreader-web"] },
    ],
  } as never);
  await c.admin.create(RoleBindings, ns, roleBinding("granter", "granter", ["alice", "mallory"].map(userSubject)));
  await installPolicy();
}, 180_000);

afterAll(async () => {
  await removePolicy();
  await controller?.stop();
  // Grants made here may name anyone; the namespace is only deleted after the whole run.
  const { items } = await c.admin.list(RoleBindings, { namespace: ns, labelSelector: `${GRANT_LABEL}=true` });
  for (const b of items as { metadata: { name: string } }[]) {
    await c.admin.delete(RoleBindings, ns, b.metadata.name).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }
});

describe("the chart's grant policy", () => {
  test("passes the apiserver's type check of its expressions without a warning", async () => {
    const status = await eventually(
      "the policy's type check",
      async () => {
        const p = (await c.admin.get(ValidatingAdmissionPolicies, undefined, GRANT_POLICY_NAME)) as {
          metadata: { generation: number };
          status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } };
        };
        return p.status?.observedGeneration === p.metadata.generation ? p.status : undefined;
      },
      30_000,
    );
    expect(status.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });

  test.each(refused)("refuses %s", async (_, body, message) => {
    const b = body();
    const r = await attempt(alice.api, b);
    expect(r.ok ? "accepted" : r.message).toContain(message);
    expect(await exists(RoleBindings, ns, b.metadata.name)).toBe(false);
    for (const reader of readerOf(b)) expect(await userReadable(reader, ns, pods)).toEqual([]);
  });

  test("accepts a grant made by hand that keeps the record, up to the maximum: creationTimestamp is set when it is judged", async () => {
    const b = grantBody("byhand", [user("carol")], { expiresAtMs: Date.now() + MAX - 60_000 });
    const r = await attempt(alice.api, b);
    expect(r).toEqual({ ok: true, name: b.metadata.name });
    expect(await userReadable(person("carol"), ns, pods)).toEqual(pods);
    await c.admin.delete(RoleBindings, ns, b.metadata.name);
  });

  test(
    "passes a grant made with podlogreader grant by a user who may bind the Role, and says nothing of advisory records to one who " +
      "can read the policy",
    async () => {
      const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:dave", "--for", "2h", "--reason", "INC-7"], {
        kubeconfig: alice.kubeconfig,
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("granted by alice");
      // alice may not read cluster-scoped admission policies, so the command cannot tell whether the record is enforced.
      expect(r.stderr).toBe(
        `the cluster does not enforce grant records (you may not read ValidatingAdmissionPolicy ${GRANT_POLICY_NAME}, so it could ` +
          `not be checked): expiry and granted-by are advisory\n`,
      );
      expect(await userReadable(person("dave"), ns, pods)).toEqual(pods);

      const admin = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:erin", "--for", "2h", "--reason", "INC-8"], {
        kubeconfig: c.kubeconfig,
      });
      expect([admin.code, admin.stderr]).toEqual([0, ""]);
    },
  );

  test(
    "a renewal with podlogreader grant replaces the binding; one " + "beyond the maximum is refused and leaves the grant as it was",
    async () => {
      const args = ["grant", "-n", ns, "deploy/web", "--to", "user:frank", "--reason", "INC-9"];
      expect((await podlogreader([...args, "--for", "1h"], { kubeconfig: alice.kubeconfig })).code).toBe(0);
      const first = await frankGrant();
      const renewed = await podlogreader([...args, "--for", "3h"], { kubeconfig: alice.kubeconfig });
      expect(renewed.code).toBe(0);
      expect(renewed.stdout).toStartWith("Renewed:");
      const second = await frankGrant();
      expect(Date.parse(second.expires) - Date.parse(first.expires)).toBeGreaterThan(HOUR);

      const tooLong = await podlogreader([...args, "--for", "200h"], { kubeconfig: alice.kubeconfig });
      expect(tooLong.code).toBe(1);
      expect(tooLong.stderr).toContain("at most 168h after the grant is created");
      expect(tooLong.stderr).toContain("The cluster's grant policy");
      expect(await frankGrant()).toEqual(second);
      expect(await userReadable(person("frank"), ns, pods)).toEqual(pods);
    },
  );

  test(
    "an update can narrow a grant but not shed its label, move " + "its expiry later, change its maker or reason, or add a subject",
    async () => {
      const b = grantBody("upd", [user("gina"), user("hal")]);
      expect(await attempt(alice.api, b)).toEqual({ ok: true, name: b.metadata.name });
      const live = () =>
        c.admin.get(RoleBindings, ns, b.metadata.name) as Promise<ReturnType<typeof grantBody> & { metadata: { resourceVersion: string } }>;
      const update = async (api: KubeApi, change: (o: Awaited<ReturnType<typeof live>>) => object) => {
        try {
          await api.update(RoleBindings, ns, change(await live()) as never);
          return "accepted";
        } catch (err) {
          if (err instanceof ApiError) return err.message;
          throw err;
        }
      };
      const withAnnotation = (o: Awaited<ReturnType<typeof live>>, k: string, v: string) => ({
        ...o,
        metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [k]: v } },
      });
      expect(await update(alice.api, (o) => ({ ...o, metadata: { ...o.metadata, labels: {} } }))).toContain("keeps its label");
      expect(await update(alice.api, (o) => ({ ...o, metadata: { ...o.metadata, labels: { [GRANT_LABEL]: "false" } } }))).toContain(
        "keeps its label",
      );
      expect(await update(alice.api, (o) => withAnnotation(o, "podlogreader.dev/expires", rfc3339(Date.now() + 2 * HOUR)))).toContain(
        "cannot move a grant's expiry later",
      );
      expect(await update(mallory.api, (o) => withAnnotation(o, "podlogreader.dev/granted-by", "mallory"))).toContain(
        "granted-by cannot change",
      );
      expect(await update(alice.api, (o) => withAnnotation(o, "podlogreader.dev/reason", "another"))).toContain("needs a reason");
      expect(
        await update(mallory.api, (o) => ({
          ...o,
          subjects: [...o.subjects, { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "mallory" }],
        })),
      ).toContain("can only take subjects out");
      expect(await userReadable(person("mallory"), ns, pods)).toEqual([]);

      // Narrowing, by anyone who may update RoleBindings: what podlogreader revoke does.
      expect(await update(mallory.api, (o) => ({ ...o, subjects: o.subjects.filter((s) => s.name !== "hal") }))).toBe("accepted");
      expect(await update(alice.api, (o) => withAnnotation(o, "podlogreader.dev/expires", rfc3339(Date.now() + HOUR / 2)))).toBe(
        "accepted",
      );
      expect(await userReadable(person("hal"), ns, pods)).toEqual([]);
      expect(await userReadable(person("gina"), ns, pods)).toEqual(pods);
    },
  );

  test("podlogreader revoke takes a subject out of someone else's grant: the policy lets an update narrow it", async () => {
    expect(
      (
        await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:kim", "--to", "user:lee", "--for", "1h", "--reason", "INC-11"], {
          kubeconfig: alice.kubeconfig,
        })
      ).code,
    ).toBe(0);
    const r = await podlogreader(["revoke", "-n", ns, "deploy/web", "--to", "user:lee"], { kubeconfig: mallory.kubeconfig });
    expect([r.code, r.stdout]).toEqual([0, expect.stringContaining("took user:lee out of RoleBinding")]);
    expect(await userReadable(person("lee"), ns, pods)).toEqual([]);
    expect(await userReadable(person("kim"), ns, pods)).toEqual(pods);
  });

  test("a RoleBinding made without the label cannot become a grant by an update", async () => {
    const b = grantBody("plain", [user("ivan")]);
    const plain = { ...b, metadata: { ...b.metadata, labels: {} } };
    await c.admin.create(RoleBindings, ns, plain);
    const live = (await c.admin.get(RoleBindings, ns, b.metadata.name)) as typeof plain;
    const r = await alice.api
      .update(RoleBindings, ns, { ...live, metadata: { ...live.metadata, labels: { [GRANT_LABEL]: "true" } } } as never)
      .then(
        () => "accepted",
        (err: Error) => err.message,
      );
    expect(r).toContain("becomes a grant only when it is created");
    await c.admin.delete(RoleBindings, ns, b.metadata.name);
  });

  test("without the policy, the apiserver accepts every binding it refused: the refusals are the policy's", async () => {
    await removePolicy();
    const accepted = await eventually(
      "the policy's removal to take effect",
      async () => {
        const b = grantBody("after", [user("after")], { grantedBy: "bob" });
        const r = await attempt(alice.api, b);
        return r.ok ? true : undefined;
      },
      30_000,
    );
    expect(accepted).toBe(true);
    for (const [what, body] of refused) {
      const b = body();
      const r = await attempt(alice.api, b);
      expect([what, r.ok]).toEqual([what, true]);
      // Some of them grant everyone; none may outlive this check, since other suites share the cluster.
      // (The controller may have deleted one already: a grant with no readable expiry has ended.)
      if (r.ok) {
        await c.admin.delete(RoleBindings, ns, b.metadata.name).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
      }
    }
    const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:judy", "--for", "200h", "--reason", "INC-10"], {
      kubeconfig: c.kubeconfig,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `the cluster does not enforce grant records (no ValidatingAdmissionPolicy ${GRANT_POLICY_NAME}): expiry and granted-by are ` +
        `advisory\n`,
    );
  });
});

async function frankGrant(): Promise<{ name: string; uid: string; expires: string }> {
  const { items } = await c.admin.list(RoleBindings, { namespace: ns, labelSelector: `${GRANT_LABEL}=true` });
  const b = (
    items as { metadata: { name: string; uid: string; annotations: Record<string, string> }; subjects: { name: string }[] }[]
  ).find((x) => x.subjects.some((s) => s.name === "frank"))!;
  return { name: b.metadata.name, uid: b.metadata.uid, expires: b.metadata.annotations["podlogreader.dev/expires"]! };
}

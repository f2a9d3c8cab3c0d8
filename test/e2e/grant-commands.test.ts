// Giving people access to a workload's logs: `podlogreader grant`, `grants` and `revoke` of the
// compiled binary, and the controller ending grants on time, against the real control plane. Who
// may read what is asked of the authorizer (SubjectAccessReview) and tried with the user's own
// client certificate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pods, RoleBindings, Roles } from "../../src/kube/resources.ts";
import { logStatus } from "../support/access.ts";
import { eventually, exists, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { testUser, userReadable, type TestUser } from "../support/users.ts";
import { createDeployment, expectReadable, patchDeployment, rollout, waitForPods } from "../support/workloads.ts";
import { podlogreader } from "../support/process.ts";
import { roleBinding, userSubject } from "../support/fixtures.ts";

let c: TestCluster;
let ns: string;
let controller: RunningController | undefined;
let alice: TestUser;
let mallory: TestUser;
let otherPod: string;

async function podNames(): Promise<string[]> {
  const { items } = await c.admin.list(Pods, { namespace: ns, metadataOnly: true });
  return items.map((p) => (p as { metadata: { name: string } }).metadata.name);
}

/** The grant binding of the workload that names `subject`, as `grants -o json` lists it. */
async function grantRow(
  subject: string,
): Promise<{ binding: string; expires?: string; reason?: string; grantedBy?: string; source: string } | undefined> {
  const r = await podlogreader(["grants", "-n", ns, "deploy/web", "-o", "json"]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { subject: string; binding: string; source: string }[]).find((x) => x.subject === subject);
}

const person = (name: string, groups: string[] = []) => ({ name, groups });

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("grants");
  alice = await testUser("alice", ["frontend"], ns);
  mallory = await testUser("mallory", [], ns);
  // mallory may write RoleBindings and read Roles here, but not read any log: RBAC's escalation
  // check is then the only thing between her and a grant.
  await c.admin.create(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "binder" },
    rules: [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings", "roles"], verbs: ["get", "list", "create", "update"] }],
  } as never);
  await c.admin.create(RoleBindings, ns, roleBinding("binder", "binder", [userSubject("mallory")]));
  controller = await startController([ns]);
  await createDeployment(ns, "web", { replicas: 2 });
  await createDeployment(ns, "other", { replicas: 1 });
  const webPods = await waitForPods(ns, "web", 2);
  [otherPod] = (await waitForPods(ns, "other", 1)) as [string];
  await expectReadable(ns, "podlogreader-web", webPods);
});
afterAll(async () => {
  await controller?.stop();
});

describe("podlogreader grant", () => {
  test("a grant to group frontend lets alice read exactly web's pods, across a rollout, and nothing else", async () => {
    const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "group:frontend", "--for", "1h", "--reason", "INC-1234"]);
    // No grant policy is installed on this cluster: the command says the record is advisory.
    expect(r.stderr).toBe(
      "the cluster does not enforce grant records (no ValidatingAdmissionPolicy grants.podlogreader.dev): expiry and granted-by " +
        "are advisory\n",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Granted: group:frontend may read the logs of Deployment\/web in namespace \S+ until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/,
    );

    const before = await waitForPods(ns, "web", 2);
    expect(await userReadable(person("alice", ["frontend"]), ns, await podNames())).toEqual(before);
    expect(await userReadable(person("mallory"), ns, await podNames())).toEqual([]);
    // With her own certificate.
    for (const pod of before) expect(await logStatus(alice.api, ns, pod)).toBe(200);
    expect(await logStatus(alice.api, ns, otherPod)).toBe(403);

    await rollout(ns, "web");
    const after = await eventually(
      "web's pods to be replaced",
      async () => {
        const pods = await waitForPods(ns, "web", 2);
        return pods.some((p) => before.includes(p)) ? undefined : pods;
      },
      60_000,
    );
    await eventually(
      "alice to read exactly web's new pods",
      async () => {
        const readable = await userReadable(person("alice", ["frontend"]), ns, [...(await podNames()), ...before]);
        return JSON.stringify(readable) === JSON.stringify(after) ? true : undefined;
      },
      30_000,
    );
    for (const pod of after) expect(await logStatus(alice.api, ns, pod)).toBe(200);
    expect(await logStatus(alice.api, ns, otherPod)).toBe(403);
  });

  test("a subject that means everyone is refused as a usage error, and nothing is written", async () => {
    for (const to of [
      "group:system:authenticated",
      "group:system:serviceaccounts",
      `group:system:serviceaccounts:${ns}`,
      "group:system:unauthenticated",
    ]) {
      const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", to, "--for", "1h", "--reason", "x"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("means everyone");
    }
    expect(await userReadable(person("anyone"), ns, await podNames())).toEqual([]);
  });

  test("mallory, who cannot read the logs, cannot grant them: the apiserver refuses and the command says why", async () => {
    const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:mallory", "--for", "1h", "--reason", "curious"], {
      kubeconfig: mallory.kubeconfig,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("attempting to grant RBAC permissions not currently held");
    expect(r.stderr).toContain("You can only grant what you hold");
    expect(await userReadable(person("mallory"), ns, await podNames())).toEqual([]);
    expect(await logStatus(mallory.api, ns, (await waitForPods(ns, "web", 2))[0]!)).toBe(403);
  });

  test("a workload without a Role of podlogreader's cannot be granted", async () => {
    const r = await podlogreader(["grant", "-n", ns, "deploy/nothing", "--to", "group:frontend", "--for", "1h", "--reason", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Role ${ns}/podlogreader-nothing does not exist`);
  });
});

describe("the controller ends grants", () => {
  test("a grant made --for 20s stops working within 25s", async () => {
    const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:bob", "--for", "20s", "--reason", "short"]);
    expect(r.code).toBe(0);
    const bob = person("bob");
    const pods = await waitForPods(ns, "web", 2);
    expect(await userReadable(bob, ns, pods)).toEqual(pods);
    const row = await grantRow("user:bob");
    await eventually("bob's grant to end", async () => ((await userReadable(bob, ns, pods)).length === 0 ? true : undefined), 25_000, 250);
    expect(await exists(RoleBindings, ns, row!.binding)).toBe(false);
  }, 60_000);

  test("a grant that expired while the controller was stopped is gone within 10s of its start", async () => {
    await controller!.stop();
    controller = undefined;
    const r = await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:carol", "--for", "2s", "--reason", "while down"]);
    expect(r.code).toBe(0);
    const carol = person("carol");
    const pods = await waitForPods(ns, "web", 2);
    const row = await grantRow("user:carol");
    // Past its expiry, RBAC still grants it: nothing else ends it.
    await Bun.sleep(3000);
    expect((await grantRow("user:carol"))?.expires).toBe(row!.expires);
    expect(await userReadable(carol, ns, pods)).toEqual(pods);

    controller = await startController([ns]);
    await eventually(
      "carol's expired grant to be deleted",
      async () => (!(await exists(RoleBindings, ns, row!.binding)) ? true : undefined),
      10_000,
      250,
    );
    expect(await userReadable(carol, ns, pods)).toEqual([]);
  }, 60_000);
});

describe("a grant lives no longer than its Role", () => {
  test("when the workload opts out, its Role goes and the grant with it", async () => {
    expect(
      (await podlogreader(["grant", "-n", ns, "deploy/other", "--to", "user:frank", "--for", "1h", "--reason", "until opt-out"])).code,
    ).toBe(0);
    const frank = person("frank");
    expect(await userReadable(frank, ns, [otherPod])).toEqual([otherPod]);
    const listed = await podlogreader(["grants", "-n", ns, "deploy/other", "-o", "json"]);
    const binding = (JSON.parse(listed.stdout) as { subject: string; binding: string }[]).find((r) => r.subject === "user:frank")!.binding;

    await patchDeployment(ns, "other", { spec: { template: { metadata: { labels: { "podlogreader-affiliate": null } } } } });
    await eventually(
      "frank's grant to be deleted with other's Role",
      async () => (!(await exists(RoleBindings, ns, binding)) ? true : undefined),
      30_000,
      250,
    );
    expect(await userReadable(frank, ns, await podNames())).toEqual([]);
  }, 60_000);
});

describe("podlogreader grants and revoke", () => {
  test("grants lists every subject with its source, expiry, reason " +
    "and granter; revoke removes one and leaves foreign bindings alone", async () => {
    expect(
      (await podlogreader(["grant", "-n", ns, "deploy/web", "--to", "user:dave", "--to", "sa:ci/bot", "--for", "2h", "--reason", "INC-9"]))
        .code,
    ).toBe(0);
    await c.admin.create(RoleBindings, ns, roleBinding("by-hand", "podlogreader-web", [userSubject("erin")]));

    const r = await podlogreader(["grants", "-n", ns, "deploy/web", "-o", "json"]);
    expect(r.code).toBe(0);
    const rows = (JSON.parse(r.stdout) as { subject: string; source: string; reason?: string; grantedBy?: string; expires?: string }[])
      .map(({ subject, source, reason, grantedBy, expires }) => ({ subject, source, reason, grantedBy, expires: expires !== undefined }))
      .sort((a, b) => a.subject.localeCompare(b.subject));
    expect(rows).toEqual([
      { subject: "group:frontend", source: "grant", reason: "INC-1234", grantedBy: "podlogreader-admin", expires: true },
      { subject: "sa:ci/bot", source: "grant", reason: "INC-9", grantedBy: "podlogreader-admin", expires: true },
      { subject: `sa:${ns}/podlogreader-web`, source: "service-account", reason: undefined, grantedBy: undefined, expires: false },
      { subject: "user:dave", source: "grant", reason: "INC-9", grantedBy: "podlogreader-admin", expires: true },
      { subject: "user:erin", source: "foreign", reason: undefined, grantedBy: undefined, expires: false },
    ]);
    const table = await podlogreader(["grants", "-n", ns]);
    expect(table.stdout.split("\n")[0]).toMatch(/^WORKLOAD\s+SUBJECT\s+SOURCE\s+EXPIRES\s+REASON\s+GRANTED-BY\s+BINDING$/);
    expect(table.stdout).toMatch(/Deployment\/web\s+user:dave\s+grant\s+\S+Z\s+INC-9\s+podlogreader-admin\s+podlogreader-web:grant-/);

    const pods = await waitForPods(ns, "web", 2);
    expect(await userReadable(person("dave"), ns, pods)).toEqual(pods);
    const first = (await grantRow("user:dave"))!;
    const renewed = await podlogreader([
      "grant",
      "-n",
      ns,
      "deploy/web",
      "--to",
      "sa:ci/bot",
      "--to",
      "user:dave",
      "--for",
      "3h",
      "--reason",
      "INC-10",
    ]);
    expect(renewed.stdout).toStartWith("Renewed:");
    const again = (await grantRow("user:dave"))!;
    expect([again.binding, again.reason, Date.parse(again.expires!) > Date.parse(first.expires!)]).toEqual([first.binding, "INC-10", true]);

    const revoked = await podlogreader(["revoke", "-n", ns, "deploy/web", "--to", "user:dave"]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain("took user:dave out of RoleBinding");
    expect(await userReadable(person("dave"), ns, pods)).toEqual([]);
    // The other subject of that grant keeps it.
    expect((await grantRow("sa:ci/bot"))?.source).toBe("grant");

    const foreign = await podlogreader(["revoke", "-n", ns, "--name", "by-hand"]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain("was not issued by podlogreader grant; left alone");
    const byName = await podlogreader(["revoke", "-n", ns, "deploy/web", "--to", "user:erin"]);
    expect(byName.code).toBe(1);
    expect(byName.stderr).toContain(`RoleBinding ${ns}/by-hand, which podlogreader grant did not issue`);
    expect(await exists(RoleBindings, ns, "by-hand")).toBe(true);
    expect(await userReadable(person("erin"), ns, pods)).toEqual(pods);

    const bot = (await grantRow("sa:ci/bot"))!;
    expect((await podlogreader(["revoke", "-n", ns, "--name", bot.binding])).code).toBe(0);
    expect(await exists(RoleBindings, ns, bot.binding)).toBe(false);
  }, 60_000);
});

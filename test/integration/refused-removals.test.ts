// Access ends even when the apiserver refuses the writes that would end it. Admission may refuse a
// Role's update, a RoleBinding's deletion or every deletion, with whatever status code a webhook
// picks (409 and 404 included), and a workload may go while its objects stay. Whatever is refused,
// the workload's ServiceAccount must end up reading no pod outside the workload. Every claim is
// asked of the apiserver's authorizer (SubjectAccessReview) and, with a token minted while the
// grant was live, of the apiserver itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { V1Pod, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import { KINDS, type WorkloadKind } from "../../src/access/kinds.ts";
import { OPT_IN_LABEL } from "../../src/access/marks.ts";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { Deployments, Pods, RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { isConflict, isNotFound, Transport } from "../../src/kube/transport.ts";
import { canReadAnyPod, canReadLog, logStatus, readablePods } from "../support/access.ts";
import { refuseByPolicy, refuseByWebhook, type Lift, type Refused } from "../support/admission.ts";
import {
  eventually,
  serviceAccountToken,
  TEST_FIELD_MANAGER,
  testCluster,
  tokenConnection,
  useNamespace,
  waitUntilGone,
  type TestCluster,
} from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { kubectl } from "../support/process.ts";
import { warningReasons } from "../support/events.ts";
import { createStatefulSet, scaleStatefulSet, waitForAppPods } from "../support/statefulsets.ts";
import { grantRole, testUser, userCanReadLog, userReadable, type TestUser } from "../support/users.ts";
import { createDeployment, expectReadable, patchDeployment, waitForPods } from "../support/workloads.ts";

let c: TestCluster;
beforeAll(async () => {
  c = await testCluster();
});

/** How long the controller and the authorizer's cache may take to end a grant: a bound, not a measurement. */
const SOON_MS = 20_000;

const StatefulSets = KINDS.StatefulSet.resource;
const db = managedName("StatefulSet", "db");
const web = managedName("Deployment", "web");

/** A client that authenticates with a real token of the ServiceAccount, from TokenRequest. */
async function tokenOf(namespace: string, serviceAccount: string): Promise<KubeApi> {
  return new KubeApi(new Transport(tokenConnection(c, await serviceAccountToken(namespace, serviceAccount))));
}

/**
 * Whether GET pods/<pod>/log with this client's token gets past authentication and authorization:
 * 401 (the token's ServiceAccount is gone) and 403 are refusals; anything else, even a 404 for a
 * pod that is gone, means the request was allowed.
 */
async function tokenReadsLog(reader: KubeApi, namespace: string, pod: string): Promise<boolean> {
  const status = await logStatus(reader, namespace, pod);
  return status !== 401 && status !== 403;
}

/** Waits until the ServiceAccount reads none of `pods` and no unnamed pod, as the authorizer decides it. */
async function waitUntilReadsNone(namespace: string, serviceAccount: string, pods: string[]): Promise<void> {
  let readable: string[] = [];
  try {
    await eventually(
      `${serviceAccount} to read no pod`,
      async () => {
        readable = await readablePods(c.admin, namespace, serviceAccount, pods);
        return readable.length === 0 && !(await canReadAnyPod(c.admin, namespace, serviceAccount)) ? true : undefined;
      },
      SOON_MS,
    );
  } catch {
    expect({ serviceAccount, readable, anyPod: await canReadAnyPod(c.admin, namespace, serviceAccount) }).toEqual({
      serviceAccount,
      readable: [],
      anyPod: false,
    });
  }
}

/** A bare pod of another team, not opted in; created once a pod of that name is fully gone. */
async function createBarePod(namespace: string, name: string): Promise<void> {
  await eventually(`a new pod ${name}`, async () => {
    try {
      await c.admin.create(
        Pods,
        namespace,
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace, labels: { app: "another-team" } },
          spec: { containers: [{ name: "app", image: "registry.invalid/other:1" }], terminationGracePeriodSeconds: 0 },
        } as V1Pod,
        TEST_FIELD_MANAGER,
      );
      return true;
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  });
}

/** A namespace of its own with a controller watching it, for one test. */
async function withController(prefix: string, body: (namespace: string) => Promise<void>): Promise<void> {
  const namespace = await useNamespace(prefix);
  const controller = await startController([namespace]);
  try {
    await body(namespace);
  } finally {
    await controller.stop();
  }
}

/** Runs `body` while the refusal is in force, and lifts it afterwards whatever happened. */
async function within<T>(refuse: Promise<Lift>, body: () => Promise<T>): Promise<T> {
  const lift = await refuse;
  try {
    return await body();
  } finally {
    await lift();
  }
}

interface Refuser {
  by: string;
  /** Short, for namespace names. */
  slug: string;
  refuse(namespace: string, name: string, refused: Refused): Promise<Lift>;
}
const REFUSERS: Refuser[] = [
  { by: "a ValidatingAdmissionPolicy", slug: "policy", refuse: refuseByPolicy },
  { by: "a webhook that answers 409", slug: "409", refuse: (ns, name, refused) => refuseByWebhook(ns, name, refused, 409) },
  { by: "a webhook that answers 404", slug: "404", refuse: (ns, name, refused) => refuseByWebhook(ns, name, refused, 404) },
];

/** What is refused while a StatefulSet scales down; each leaves one way out (delete the Role, or empty the binding). */
const SHRINK_REFUSALS: [string, Refused][] = [
  ["Role updates and RoleBinding deletions", { roles: ["UPDATE"], rolebindings: ["DELETE"] }],
  ["Role updates and deletions and RoleBinding deletions", { roles: ["UPDATE", "DELETE"], rolebindings: ["DELETE"] }],
];

const DELETES: Refused = { roles: ["DELETE"], rolebindings: ["DELETE"], serviceaccounts: ["DELETE"] };

for (const { by, slug, refuse } of REFUSERS) {
  describe(`writes refused by ${by}`, () => {
    for (const [what, refused] of SHRINK_REFUSALS)
      test(
        `with ${what} refused, a StatefulSet scaled down stops granting the pod that left, also once another team's pod takes its ` +
          `name`,
        () =>
          withController(`shrink-${slug}`, async (ns) => {
            await createStatefulSet(ns, "db", { replicas: 2 });
            await expectReadable(ns, db, await waitForAppPods(ns, "sts-db", 2));
            const reader = await tokenOf(ns, db);
            await within(refuse(ns, "no-shrink", refused), async () => {
              await scaleStatefulSet(ns, "db", 1);
              expect(await waitForAppPods(ns, "sts-db", 1)).toEqual(["db-0"]);
              await eventually(
                "db-1 to stop being readable",
                async () => (!(await canReadLog(c.admin, ns, db, "db-1")) ? true : undefined),
                SOON_MS,
              );
              await createBarePod(ns, "db-1");
              expect(await canReadLog(c.admin, ns, db, "db-1")).toBe(false);
              expect(await tokenReadsLog(reader, ns, "db-1")).toBe(false);
              expect(await canReadAnyPod(c.admin, ns, db)).toBe(false);
              expect(
                await eventually(
                  "a RoleWriteRefused Event on the StatefulSet",
                  async () => ((await warningReasons(ns, "db")).includes("RoleWriteRefused") ? true : undefined),
                  SOON_MS,
                ),
              ).toBe(true);
            });
          }),
      );

    test("with deletions refused, a Deployment that opts out leaves its ServiceAccount reading no pod", () =>
      withController(`optout-${slug}`, async (ns) => {
        await createDeployment(ns, "web", { replicas: 2 });
        const former = await waitForPods(ns, "web", 2);
        await expectReadable(ns, web, former);
        const reader = await tokenOf(ns, web);
        await within(refuse(ns, "no-delete", DELETES), async () => {
          await patchDeployment(ns, "web", { spec: { template: { metadata: { labels: { [OPT_IN_LABEL]: null } } } } });
          const replaced = await eventually("the pods of the new template", async () => {
            const now = await waitForPods(ns, "web", 2);
            return now.some((p) => former.includes(p)) ? undefined : now;
          });
          await waitUntilReadsNone(ns, web, [...former, ...replaced]);
          for (const pod of [...former, ...replaced]) expect(await tokenReadsLog(reader, ns, pod)).toBe(false);
        });
      }));

    test(
      "with deletions refused, a deleted StatefulSet's ServiceAccount does not read the pods of another team's StatefulSet of the " +
        "same name",
      () =>
        withController(`deleted-${slug}`, async (ns) => {
          await createStatefulSet(ns, "db", { replicas: 2 });
          await expectReadable(ns, db, await waitForAppPods(ns, "sts-db", 2));
          const reader = await tokenOf(ns, db);
          await within(refuse(ns, "no-delete", DELETES), async () => {
            await c.admin.delete(StatefulSets, ns, "db");
            await waitUntilGone(StatefulSets, ns, "db");
            await waitForAppPods(ns, "sts-db", 0);
            await createStatefulSet(ns, "db", { replicas: 2, optIn: false, app: "another-team-db" });
            expect(await waitForAppPods(ns, "another-team-db", 2)).toEqual(["db-0", "db-1"]);
            await waitUntilReadsNone(ns, db, ["db-0", "db-1"]);
            expect(await tokenReadsLog(reader, ns, "db-0")).toBe(false);
            expect(await tokenReadsLog(reader, ns, "db-1")).toBe(false);
          });
        }),
    );
  });
}

/** A grant of the workload's Role to the user, as `podlogreader grant` writes it, ending at `expiresAtMs`. */
const grantTo = (namespace: string, kind: WorkloadKind, name: string, user: TestUser, expiresAtMs: number) =>
  grantRole(namespace, { kind, name }, [{ kind: "User", name: user.name }], expiresAtMs, "INC-7");

/** The grant's subjects as the apiserver holds them; undefined when the grant is gone. */
async function grantSubjects(namespace: string, name: string): Promise<unknown[] | undefined> {
  try {
    return ((await c.admin.get(RoleBindings, namespace, name)) as V1RoleBinding).subjects ?? [];
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Whether `kubectl logs` as the user gets past the authorizer (any answer but Forbidden, even an error of the pod's own). */
async function userKubectlReadsLog(user: TestUser, namespace: string, pod: string): Promise<boolean> {
  const run = await kubectl(["logs", "-n", namespace, pod], { kubeconfig: user.kubeconfig });
  return !/forbidden/i.test(run.stderr);
}

/** Waits until the user reads none of `pods` and no pod of any other name, as the authorizer decides it. */
async function waitUntilUserReadsNone(namespace: string, user: TestUser, pods: string[]): Promise<void> {
  let readable: string[] = [];
  await eventually(
    `${user.name} to read no pod`,
    async () => {
      readable = await userReadable(user, namespace, pods);
      return readable.length === 0 ? true : undefined;
    },
    SOON_MS,
  ).catch(() => undefined);
  expect({ user: user.name, readable }).toEqual({ user: user.name, readable: [] });
}

for (const { by, slug, refuse } of REFUSERS) {
  describe(`grants to people, writes refused by ${by}`, () => {
    test(
      "with Role updates and deletions and RoleBinding deletions refused, a StatefulSet scaled down ends the grants of its " +
        "Role: the user reads no pod, also once another team's pod takes the departed name",
      () =>
        withController(`grant-shrink-${slug}`, async (ns) => {
          const user = await testUser(`oncall-${slug}`);
          await createStatefulSet(ns, "db", { replicas: 2 });
          const pods = await waitForAppPods(ns, "sts-db", 2);
          await expectReadable(ns, db, pods);
          const grant = await grantTo(ns, "StatefulSet", "db", user, Date.now() + 3600_000);
          expect(await eventually("the user to read db-1", async () => ((await userCanReadLog(user, ns, "db-1")) ? true : undefined))).toBe(
            true,
          );
          await within(refuse(ns, "no-shrink", SHRINK_REFUSALS[1]![1]), async () => {
            await scaleStatefulSet(ns, "db", 1);
            expect(await waitForAppPods(ns, "sts-db", 1)).toEqual(["db-0"]);
            // The Role still names db-1 and nothing can change that: the grant binds nobody any more.
            await waitUntilUserReadsNone(ns, user, pods);
            await createBarePod(ns, "db-1");
            expect(await userReadable(user, ns, pods)).toEqual([]);
            expect(await grantSubjects(ns, grant)).toEqual([]);
            expect(await userKubectlReadsLog(user, ns, "db-1")).toBe(false);
          });
        }),
    );

    test("with RoleBinding deletions refused, an expired grant is emptied: its user reads nothing", () =>
      withController(`grant-expired-${slug}`, async (ns) => {
        const user = await testUser(`contractor-${slug}`);
        await createDeployment(ns, "web", { replicas: 1 });
        const pods = await waitForPods(ns, "web", 1);
        await expectReadable(ns, web, pods);
        await within(refuse(ns, "no-unbind", { rolebindings: ["DELETE"] }), async () => {
          const grant = await grantTo(ns, "Deployment", "web", user, Date.now() + 4000);
          expect(
            await eventually("the user to read web", async () => ((await userCanReadLog(user, ns, pods[0]!)) ? true : undefined)),
          ).toBe(true);
          await waitUntilUserReadsNone(ns, user, pods);
          expect(await grantSubjects(ns, grant)).toEqual([]);
          expect(await userKubectlReadsLog(user, ns, pods[0]!)).toBe(false);
        });
      }));
  });
}

describe("a managed Role taken over while RoleBinding deletions are refused", () => {
  let ns: string;
  let controller: RunningController;

  beforeAll(async () => {
    ns = await useNamespace("takeover-refused");
    controller = await startController([ns]);
  });
  afterAll(() => controller.stop());

  test("is no longer bound to the ServiceAccount, which reads no pod outside its workload", async () => {
    await createDeployment(ns, "web", { replicas: 1 });
    await createDeployment(ns, "other", { replicas: 1, optIn: false });
    const [own] = await waitForPods(ns, "web", 1);
    const [other] = await waitForPods(ns, "other", 1);
    await expectReadable(ns, web, [own!]);
    const reader = await tokenOf(ns, web);
    const widened = [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"] }];
    await within(refuseByPolicy(ns, "no-unbind", { rolebindings: ["DELETE"] }), async () => {
      // Its new owner drops podlogreader's label and widens it to every pod in the namespace.
      await c.admin.mergePatch(
        Roles,
        ns,
        web,
        { metadata: { labels: { "app.kubernetes.io/managed-by": null } }, rules: widened },
        { fieldManager: "someone-else" },
      );
      await eventually(
        `${other} to be unreadable`,
        async () => (!(await canReadLog(c.admin, ns, web, other!)) && !(await canReadAnyPod(c.admin, ns, web)) ? true : undefined),
        SOON_MS,
      );
      expect(await tokenReadsLog(reader, ns, other!)).toBe(false);
      expect(
        await eventually(
          "a NameConflict Event",
          async () => ((await warningReasons(ns, "web")).includes("NameConflict") ? true : undefined),
          SOON_MS,
        ),
      ).toBe(true);
      const role = (await c.admin.get(Roles, ns, web)) as { rules: unknown[]; metadata: { labels?: Record<string, string> } };
      expect(role.rules).toEqual(widened);
      expect(role.metadata.labels?.["app.kubernetes.io/managed-by"]).toBeUndefined();
    });
  });
});

describe("a workload deleted without garbage collection and created again under its name", () => {
  test("gets a new ServiceAccount, and a token of the old one reads nothing", async () => {
    const ns = await useNamespace("recreated-orphan");
    let controller: RunningController | undefined = await startController([ns]);
    try {
      await createDeployment(ns, "web", { replicas: 1 });
      await expectReadable(ns, web, await waitForPods(ns, "web", 1));
      const oldUid = ((await c.admin.get(ServiceAccounts, ns, web)) as V1ServiceAccount).metadata!.uid!;
      const oldReader = await tokenOf(ns, web);
      const [before] = await waitForPods(ns, "web", 1);
      await eventually(
        "the old token to read its pod's log",
        async () => ((await tokenReadsLog(oldReader, ns, before!)) ? true : undefined),
        SOON_MS,
      );

      // Deleted while the controller is down, with Orphan: the Role, RoleBinding and
      // ServiceAccount stay, carrying only podlogreader's label and annotation.
      await controller.stop();
      controller = undefined;
      await c.admin.delete(Deployments, ns, "web", undefined, "Orphan");
      await waitUntilGone(Deployments, ns, "web");
      const sa = (await c.admin.get(ServiceAccounts, ns, web)) as V1ServiceAccount;
      expect(sa.metadata!.ownerReferences ?? []).toEqual([]);
      await createDeployment(ns, "web", { replicas: 1 });
      controller = await startController([ns]);

      const newUid = await eventually(
        "a ServiceAccount of the new Deployment",
        async () => {
          try {
            const now = (await c.admin.get(ServiceAccounts, ns, web)) as V1ServiceAccount;
            return now.metadata!.uid !== oldUid && !now.metadata!.deletionTimestamp ? now.metadata!.uid : undefined;
          } catch (err) {
            if (isNotFound(err)) return undefined;
            throw err;
          }
        },
        SOON_MS,
      );
      expect(newUid).not.toBe(oldUid);
      const pods = await waitForPods(ns, "web", 1);
      await expectReadable(ns, web, pods);
      const newReader = await tokenOf(ns, web);
      await eventually(
        "the new token to read the pod's log",
        async () => ((await tokenReadsLog(newReader, ns, pods[0]!)) ? true : undefined),
        SOON_MS,
      );
      // The apiserver caches a token's successful authentication for a few seconds.
      const alsoBefore = [...new Set([...pods, before!])];
      let stillRead: string[] = [];
      await eventually(
        "the old token to read nothing",
        async () => {
          stillRead = [];
          for (const pod of alsoBefore) if (await tokenReadsLog(oldReader, ns, pod)) stillRead.push(pod);
          return stillRead.length === 0 ? true : undefined;
        },
        SOON_MS,
      ).catch(() => undefined);
      expect(stillRead).toEqual([]);
    } finally {
      await controller?.stop();
    }
  });
});

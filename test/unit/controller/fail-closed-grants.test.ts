// Grants to people bind the workload's own Role. When the apiserver refuses every change that would
// stop that Role granting too much, the grants that bind it are ended; when the Role can be fixed,
// they are left alone. The apiserver is a fake at the KubeApi boundary that refuses Role writes.
import { describe, expect, test } from "bun:test";
import { desiredAccess } from "../../../src/access/desired.ts";
import { World, type Workload } from "../../../src/access/membership.ts";
import { managedName } from "../../../src/access/names.ts";
import type { GrantEnder, Refusal } from "../../../src/controller/fail-closed.ts";
import { Reconciler, RoleWriteRefusedError, type ObjectWriter } from "../../../src/controller/reconciler.ts";
import type { KubeObject } from "../../../src/kube/api.ts";
import type { Role } from "../../../src/kube/objects.ts";
import type { ResourceType } from "../../../src/kube/resources.ts";
import { ApiError } from "../../../src/kube/transport.ts";
import { createLogger } from "../../../src/log.ts";
import { MapCache } from "../../support/map-cache.ts";

const NS = "shop";
const NAME = managedName("Deployment", "web");
const OPTIONS = { podVisibility: "namespace" as const, createServiceAccountAndRoleBinding: false };
const WEB: Workload = { kind: "Deployment", namespace: NS, name: "web", uid: "uid-web", optedIn: true };

function world(pods: string[], exists = true): World {
  const w = new World();
  if (!exists) return w;
  w.updateWorkload(undefined, WEB);
  w.updateWorkload(undefined, {
    ...WEB,
    kind: "ReplicaSet",
    name: "web-1",
    uid: "uid-rs",
    controllerKind: "Deployment",
    controllerUid: "uid-web",
  });
  for (const p of pods)
    w.updatePod(undefined, { namespace: NS, name: p, uid: `uid-${p}`, controllerKind: "ReplicaSet", controllerUid: "uid-rs" });
  return w;
}

const role = (pods: string[]): Role => ({
  metadata: {
    name: NAME,
    namespace: NS,
    uid: "uid-role",
    resourceVersion: "10",
    labels: { "app.kubernetes.io/managed-by": "podlogreader" },
    annotations: { "podlogreader.dev/workload": "Deployment/web" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "uid-web", controller: true }],
  },
  rules: desiredAccess(WEB, pods, OPTIONS).role.rules,
});

/** Holds one Role; refuses every update and/or delete of it with 403, as an admission policy would. */
class RoleApi implements ObjectWriter {
  constructor(
    public live: Role | undefined,
    private readonly refuse: { update: boolean; delete: boolean },
  ) {}
  private refused(verb: string): never {
    throw new ApiError(verb, `/roles/${NAME}`, 403, "Forbidden", "denied by policy");
  }
  async get(_rt: ResourceType, _ns: string | undefined, name: string) {
    if (!this.live || name !== NAME) throw new ApiError("GET", `/roles/${name}`, 404, "NotFound", "not found");
    return structuredClone(this.live);
  }
  async create(_rt: ResourceType, _ns: string | undefined, body: KubeObject): Promise<unknown> {
    return this.refused(`POST ${body.metadata?.name}`);
  }
  async apply(_rt: ResourceType, _ns: string, body: KubeObject) {
    if (this.refuse.update) this.refused("PATCH");
    this.live = { ...(body as Role), metadata: { ...this.live!.metadata, resourceVersion: "11" } };
    return this.live;
  }
  async delete() {
    if (this.refuse.delete) this.refused("DELETE");
    this.live = undefined;
  }
}

/** Records which Roles' grants were ended; answers as if each grant was deleted. */
class Grants implements GrantEnder {
  readonly ended: string[] = [];
  async endGrantsOf(namespace: string, roleName: string) {
    this.ended.push(`${namespace}/${roleName}`);
    return { ended: true, done: [`deleted grant RoleBinding ${roleName}:grant-1`], refusals: [] as Refusal[] };
  }
}

async function reconcile(w: World, api: RoleApi) {
  const grants = new Grants();
  const events: string[] = [];
  const sink = { normal: async () => {}, warn: async (_on: unknown, reason: string) => void events.push(reason) };
  const roles = new MapCache(api.live ? [api.live] : []);
  const reconciler = new Reconciler(api, { world: w, roles }, OPTIONS, sink, createLogger("error", "text"), undefined, grants);
  let error: unknown;
  try {
    await reconciler.reconcile(`Deployment/${NS}/web`);
  } catch (err) {
    error = err;
  }
  return { grants: grants.ended, events, error };
}

describe("the grants of a workload's Role", () => {
  test("a pod left and the Role can neither shrink nor go: every grant of the Role is ended", async () => {
    const api = new RoleApi(role(["web-a", "web-b"]), { update: true, delete: true });
    const { grants, events, error } = await reconcile(world(["web-b"]), api);
    expect(grants).toEqual([`${NS}/${NAME}`]);
    expect(error).toBeInstanceOf(RoleWriteRefusedError);
    expect((error as Error).message).toContain(`deleted grant RoleBinding ${NAME}:grant-1`);
    expect(events).toEqual(["RoleWriteRefused"]);
  });

  test("the workload is gone and its Role can neither shrink nor go: every grant of the Role is ended", async () => {
    const api = new RoleApi(role(["web-a"]), { update: true, delete: true });
    const { grants, error } = await reconcile(world([], false), api);
    expect(grants).toEqual([`${NS}/${NAME}`]);
    expect(error).toBeInstanceOf(RoleWriteRefusedError);
  });

  test.each([
    ["the Role's update is refused but its delete goes through", { update: true, delete: false }],
    ["the Role's update goes through", { update: false, delete: true }],
  ])("%s: the grants are left alone", async (_, refuse) => {
    const api = new RoleApi(role(["web-a", "web-b"]), refuse);
    const { grants } = await reconcile(world(["web-b"]), api);
    expect(grants).toEqual([]);
  });

  test("a Role that grants no more than it may is never a reason to end grants, even when every write is refused", async () => {
    const api = new RoleApi(role(["web-a"]), { update: true, delete: true });
    const { grants, error } = await reconcile(world(["web-a", "web-b"]), api);
    expect(grants).toEqual([]);
    expect(error).toBeInstanceOf(RoleWriteRefusedError);
  });
});

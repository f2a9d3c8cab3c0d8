// `cleanup` against a scripted in-memory API (list, get, delete with preconditions): an object
// replaced between list and delete, a refusal, a transient failure, a lease renewed in between.
// The same command against the real apiserver is test/integration/cleanup-command.test.ts.
import { describe, expect, test } from "bun:test";
import { cleanup, type CleanupRequest } from "../../../src/admin/cleanup.ts";
import { parseCleanup } from "../../../src/commands/cleanup.ts";
import { UsageError } from "../../../src/flags/parse.ts";
import type { KubeApi } from "../../../src/kube/api.ts";
import { collectionPath, type ResourceType } from "../../../src/kube/resources.ts";
import { ApiError } from "../../../src/kube/transport.ts";

type Obj = {
  metadata: Record<string, unknown> & { name: string; namespace: string; uid: string; resourceVersion: string };
  [k: string]: unknown;
};

/** Objects by `plural/namespace/name`; `beforeDelete` may throw or change the store first. */
class FakeApi {
  readonly store = new Map<string, Obj>();
  readonly calls: string[] = [];
  beforeDelete: (key: string) => void = () => {};
  private rv = 100;

  put(rt: ResourceType, o: Obj): void {
    this.store.set(`${rt.plural}/${o.metadata.namespace}/${o.metadata.name}`, {
      ...o,
      metadata: { ...o.metadata, resourceVersion: String(this.rv++) },
    });
  }

  async list(rt: ResourceType, opts: { namespace?: string } = {}) {
    this.calls.push(`list ${rt.plural} ${opts.namespace ?? "*"}`);
    const items = [...this.store.entries()]
      .filter(([k]) => k.startsWith(`${rt.plural}/${opts.namespace ? `${opts.namespace}/` : ""}`))
      .map(([, o]) => o);
    return { items, resourceVersion: "1" };
  }

  async get(rt: ResourceType, namespace: string, name: string) {
    const o = this.store.get(`${rt.plural}/${namespace}/${name}`);
    if (!o) throw new ApiError("GET", collectionPath(rt, namespace), 404, "NotFound", "not found");
    return o;
  }

  async delete(
    rt: ResourceType,
    namespace: string,
    name: string,
    pre: { uid?: string; resourceVersion?: string } = {},
    _p = "Background",
    options: { dryRun?: boolean } = {},
  ) {
    const key = `${rt.plural}/${namespace}/${name}`;
    this.calls.push(`delete ${key}${options.dryRun ? " (dry run)" : ""}`);
    this.beforeDelete(key);
    const o = this.store.get(key);
    if (!o) throw new ApiError("DELETE", key, 404, "NotFound", "not found");
    if ((pre.uid && pre.uid !== o.metadata.uid) || (pre.resourceVersion && pre.resourceVersion !== o.metadata.resourceVersion)) {
      throw new ApiError("DELETE", key, 409, "Conflict", "Precondition failed");
    }
    if (!options.dryRun) this.store.delete(key);
  }
}

const R = { plural: "roles", group: "rbac.authorization.k8s.io", version: "v1", kind: "Role" };
const RB = { plural: "rolebindings", group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding" };
const SA = { plural: "serviceaccounts", group: "", version: "v1", kind: "ServiceAccount" };
const LEASE = { plural: "leases", group: "coordination.k8s.io", version: "v1", kind: "Lease" };

const ours = (namespace: string, name: string, uid = `${namespace}-${name}`): Obj => ({
  metadata: {
    name: `podlogreader-${name}`,
    namespace,
    uid,
    resourceVersion: "",
    labels: { "app.kubernetes.io/managed-by": "podlogreader" },
    annotations: { "podlogreader.dev/workload": `Deployment/${name}` },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name, uid: "w", controller: true }],
  },
});
const theirs = (namespace: string, name: string, uid = `${namespace}-${name}-theirs`): Obj => ({
  metadata: { name, namespace, uid, resourceVersion: "" },
});
const bindingOf = (o: Obj) => ({
  ...o,
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: o.metadata.name },
  subjects: [{ kind: "ServiceAccount", name: o.metadata.name }],
});

function world(): FakeApi {
  const api = new FakeApi();
  for (const ns of ["a", "b"]) {
    api.put(RB, bindingOf(ours(ns, "web")));
    api.put(R, ours(ns, "web"));
    api.put(SA, ours(ns, "web"));
  }
  api.put(LEASE, {
    metadata: { name: "podlogreader", namespace: "sys", uid: "l1", resourceVersion: "" },
    spec: { holderIdentity: null, leaseDurationSeconds: 1 },
  });
  return api;
}

const request = (over: Partial<CleanupRequest> = {}): CleanupRequest => ({
  namespaces: undefined,
  lease: { namespace: "sys", name: "podlogreader" },
  waitForLeaseMs: 0,
  dryRun: false,
  ...over,
});
const run = (api: FakeApi, over: Partial<CleanupRequest> = {}) => cleanup(api as unknown as KubeApi, request(over));
const deletes = (api: FakeApi) => api.calls.filter((c) => c.startsWith("delete"));

describe("cleanup", () => {
  test("deletes bindings, then Roles, then ServiceAccounts, then the Lease; a second run deletes nothing", async () => {
    const api = world();
    const report = await run(api);
    expect(report.ok).toBe(true);
    expect(deletes(api)).toEqual([
      "delete rolebindings/a/podlogreader-web",
      "delete rolebindings/b/podlogreader-web",
      "delete roles/a/podlogreader-web",
      "delete roles/b/podlogreader-web",
      "delete serviceaccounts/a/podlogreader-web",
      "delete serviceaccounts/b/podlogreader-web",
      "delete leases/sys/podlogreader",
    ]);
    expect(api.store.size).toBe(0);
    expect(report.lease?.result).toBe("deleted");

    const again = await run(api);
    expect(again).toMatchObject({ ok: true, removed: [], leftAlone: [], lease: { result: "absent" } });
  });

  test("a dry run sends every delete as a dry run and deletes nothing", async () => {
    const api = world();
    const report = await run(api, { dryRun: true });
    expect(report.removed).toHaveLength(7);
    expect(deletes(api).every((c) => c.endsWith("(dry run)"))).toBe(true);
    expect(api.store.size).toBe(7);
  });

  test("-n lists and deletes only in the namespaces given", async () => {
    const api = world();
    await run(api, { namespaces: ["b"], lease: undefined });
    expect(api.calls.filter((c) => c.startsWith("list"))).toEqual(["list rolebindings b", "list roles b", "list serviceaccounts b"]);
    expect([...api.store.keys()].filter((k) => k.includes("/a/"))).toHaveLength(3);
    expect([...api.store.keys()].filter((k) => k.includes("/b/"))).toHaveLength(0);
  });

  test("an object replaced by someone else's between list and delete is not removed", async () => {
    const api = world();
    api.beforeDelete = (key) => {
      if (key !== "roles/a/podlogreader-web") return;
      api.beforeDelete = () => {};
      api.put(R, theirs("a", "podlogreader-web"));
    };
    const report = await run(api);
    expect(report.ok).toBe(true);
    expect(api.store.get("roles/a/podlogreader-web")?.metadata.uid).toBe("a-podlogreader-web-theirs");
    expect(report.leftAlone).toEqual([
      {
        kind: "Role",
        namespace: "a",
        name: "podlogreader-web",
        why: "replaced since it was listed, and not made by podlogreader: it lacks the label app.kubernetes.io/managed-by=podlogreader",
      },
    ]);
  });

  test("an object of podlogreader's that changed since it was listed is judged again and deleted", async () => {
    const api = world();
    api.beforeDelete = (key) => {
      if (key !== "roles/a/podlogreader-web") return;
      api.beforeDelete = () => {};
      api.put(R, ours("a", "web"));
    };
    const report = await run(api);
    expect(report.ok).toBe(true);
    expect(api.store.has("roles/a/podlogreader-web")).toBe(false);
    expect(deletes(api).filter((c) => c === "delete roles/a/podlogreader-web")).toHaveLength(2);
  });

  test("a refusal names the missing permission, and nothing after that kind is tried", async () => {
    const api = world();
    api.beforeDelete = (key) => {
      if (key.startsWith("roles/"))
        throw new ApiError("DELETE", key, 403, "Forbidden", 'roles.rbac.authorization.k8s.io "podlogreader-web" is forbidden');
    };
    const report = await run(api);
    expect(report.ok).toBe(false);
    expect(report.errors).toHaveLength(2);
    expect(report.errors[0]).toStartWith('missing permission: delete roles.rbac.authorization.k8s.io in namespace "a"');
    expect(report.errors[1]).toStartWith('missing permission: delete roles.rbac.authorization.k8s.io in namespace "b"');
    expect(report.errors[1]).toEndWith("; stopped before deleting ServiceAccounts");
    expect(deletes(api).some((c) => c.includes("serviceaccounts") || c.includes("leases"))).toBe(false);
    expect(report.lease?.result).toBe("not-reached");
    expect(report.removed.map((r) => r.kind)).toEqual(["RoleBinding", "RoleBinding"]);
  });

  test("a refused list names the permission cluster-wide", async () => {
    const api = world();
    api.list = async (rt) => {
      throw new ApiError("GET", rt.plural, 403, "Forbidden", "forbidden");
    };
    const report = await run(api);
    expect(report.errors).toEqual([
      "missing permission: list rolebindings.rbac.authorization.k8s.io in all namespaces (cluster-wide) (GET rolebindings: 403 " +
        "Forbidden: forbidden)",
    ]);
    expect(deletes(api)).toEqual([]);
  });

  test("a transient failure is retried", async () => {
    const api = world();
    let failed = 0;
    api.beforeDelete = (key) => {
      if (key === "serviceaccounts/b/podlogreader-web" && failed++ === 0)
        throw new ApiError("DELETE", key, 503, "ServiceUnavailable", "try again");
    };
    const report = await run(api);
    expect(report.ok).toBe(true);
    expect(failed).toBe(2);
    expect(api.store.size).toBe(0);
  });

  test("a Lease renewed between read and delete is read again; a held one is warned of", async () => {
    const api = world();
    api.put(LEASE, {
      metadata: { name: "podlogreader", namespace: "sys", uid: "l1", resourceVersion: "" },
      spec: { holderIdentity: "replica-1", leaseDurationSeconds: 3600, renewTime: new Date().toISOString() },
    });
    api.beforeDelete = (key) => {
      if (key !== "leases/sys/podlogreader") return;
      api.beforeDelete = () => {};
      api.put(LEASE, { ...api.store.get(key)! });
    };
    const report = await run(api);
    expect(report.ok).toBe(true);
    expect(report.warnings[0]).toStartWith("Lease sys/podlogreader is held by replica-1");
    expect(deletes(api).filter((c) => c.startsWith("delete leases"))).toHaveLength(2);
    expect(api.store.size).toBe(0);
  });
});

describe("cleanup flags", () => {
  test("defaults: the current namespace (empty list), no Lease, no waiting, for real", () => {
    expect(parseCleanup([])).toMatchObject({ namespaces: [], allNamespaces: false, lease: undefined, waitForLeaseMs: 0, dryRun: false });
  });

  test("the hook's arguments", () => {
    expect(
      parseCleanup(["-A", "--leader-election-namespace", "sys", "--leader-election-id", "podlogreader", "--wait-for-lease=30s"]),
    ).toMatchObject({
      allNamespaces: true,
      lease: { namespace: "sys", name: "podlogreader" },
      waitForLeaseMs: 30_000,
    });
    expect(parseCleanup(["-n", "a,b", "-n", "c", "--dry-run", "-o", "json"])).toMatchObject({
      namespaces: ["a", "b", "c"],
      dryRun: true,
      output: "json",
    });
  });

  test.each([
    [["-A", "-n", "x"], "-n/--namespace and -A/--all-namespaces cannot go together"],
    [["--leader-election-id", "x"], "give both or neither"],
    [["--leader-election-namespace", "x"], "give both or neither"],
    [["--wait-for-lease", "10s"], "--wait-for-lease needs the Lease"],
    [["-n", "Not_A_Namespace"], "--namespace must be a valid namespace name"],
    [["-o", "yaml"], "--output must be json"],
  ])("%p is refused: %s", (argv, message) => {
    expect(() => parseCleanup(argv)).toThrow(UsageError);
    expect(() => parseCleanup(argv)).toThrow(message);
  });
});

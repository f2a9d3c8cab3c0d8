// Log lines: JSON with the object's fields at the top level, readable text with key=value pairs,
// and the reconciler's lines about a workload carrying its kind, namespace, name and reason.
import { describe, expect, test } from "bun:test";
import { World, type Workload } from "../../src/access/membership.ts";
import { Reconciler, type ObjectWriter } from "../../src/controller/reconciler.ts";
import { createLogger, formatFields } from "../../src/log.ts";
import { MapCache } from "../support/map-cache.ts";

function captured(level: "debug" | "info", format: "json" | "text") {
  const lines: string[] = [];
  return { log: createLogger(level, format, (s) => lines.push(...s.split("\n").filter(Boolean))), lines };
}

describe("JSON lines", () => {
  test("time, level and msg, then the fields as top-level keys; an undefined field is left out", () => {
    const { log, lines } = captured("info", "json");
    log.warn("Created Role shop/podlogreader-web", {
      kind: "Deployment",
      namespace: "shop",
      name: "web",
      reason: "AccessGranted",
      attempt: 2,
      unset: undefined,
    });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(Object.keys(line)).toEqual(["time", "level", "msg", "kind", "namespace", "name", "reason", "attempt"]);
    expect(line).toMatchObject({
      level: "warn",
      msg: "Created Role shop/podlogreader-web",
      kind: "Deployment",
      namespace: "shop",
      name: "web",
      reason: "AccessGranted",
      attempt: 2,
    });
    expect(new Date(line.time).toISOString()).toBe(line.time);
  });

  test("with() adds fields to every line, and a line's own fields win", () => {
    const { log, lines } = captured("info", "json");
    const lease = log.with({ kind: "Lease", namespace: "system", name: "podlogreader" });
    lease.info("Became the leader", { reason: "BecameLeader" });
    lease.error("Lost", { reason: "LeadershipLost", name: "other" });
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { level: "info", kind: "Lease", namespace: "system", name: "podlogreader", reason: "BecameLeader" },
      { level: "error", kind: "Lease", namespace: "system", name: "other", reason: "LeadershipLost" },
    ]);
  });

  test("lines below the level are not written", () => {
    const { log, lines } = captured("info", "json");
    log.debug("hidden", { kind: "Deployment" });
    expect(lines).toEqual([]);
  });
});

describe("text lines", () => {
  test("the message, then key=value pairs; values with spaces or quotes are quoted", () => {
    const { log, lines } = captured("info", "text");
    log.info("Deleted Role shop/podlogreader-web: Deployment shop/web is gone", {
      kind: "Deployment",
      namespace: "shop",
      name: "web",
      reason: "AccessRemoved",
    });
    log.info("Caches synced");
    expect(lines[0]).toEndWith(
      "Deleted Role shop/podlogreader-web: Deployment shop/web is gone  kind=Deployment namespace=shop name=web reason=AccessRemoved",
    );
    expect(lines[1]).toEndWith("Caches synced");
    expect(lines.join("\n")).not.toContain("{");
  });

  test("formatFields quotes what would not read back", () => {
    expect(formatFields({ a: "x y", b: 'say "hi"', c: "", d: 1, e: true, f: undefined, g: "k=v" })).toBe(
      'a="x y" b="say \\"hi\\"" c="" d=1 e=true g="k=v"',
    );
  });
});

test("every line the reconciler writes about a workload carries its kind, namespace, name and reason", async () => {
  const world = new World();
  const web: Workload = { kind: "Deployment", namespace: "shop", name: "web", uid: "uid-web", optedIn: true };
  world.updateWorkload(undefined, web);
  world.updateWorkload(undefined, {
    kind: "ReplicaSet",
    namespace: "shop",
    name: "web-1",
    uid: "uid-rs",
    optedIn: true,
    controllerKind: "Deployment",
    controllerUid: "uid-web",
  });
  world.updatePod(undefined, { namespace: "shop", name: "web-1-a", uid: "uid-a", controllerKind: "ReplicaSet", controllerUid: "uid-rs" });
  const answer = async (_rt: unknown, _ns: unknown, body: { metadata: object }) => ({
    ...body,
    metadata: { ...body.metadata, uid: "u1", resourceVersion: "1" },
  });
  const api = { create: answer, apply: answer, delete: async () => ({}) } as unknown as ObjectWriter;
  const caches = { world, roles: new MapCache(), roleBindings: new MapCache(), serviceAccounts: new MapCache() } as never;
  const { log, lines } = captured("debug", "json");
  const events = { normal: async () => {}, warn: async () => {} };
  const reconciler = new Reconciler(api, caches, { podVisibility: "own", createServiceAccountAndRoleBinding: true }, events, log);

  await reconciler.reconcile("Deployment/shop/web");
  world.updateWorkload(web, undefined);
  await reconciler.reconcile("Deployment/shop/web");

  const parsed = lines.map((l) => JSON.parse(l));
  expect(parsed.map((l) => [l.msg.split(" ")[0], l.object, l.reason])).toEqual([
    ["Created", "Role/podlogreader-web", "AccessGranted"],
    ["Created", "ServiceAccount/podlogreader-web", "ServiceAccountCreated"],
    ["Created", "RoleBinding/podlogreader-web", "RoleBindingSynced"],
    ["Deleted", "RoleBinding/podlogreader-web", "AccessRemoved"],
    ["Deleted", "Role/podlogreader-web", "AccessRemoved"],
    ["Deleted", "ServiceAccount/podlogreader-web", "AccessRemoved"],
  ]);
  for (const l of parsed) expect(l).toMatchObject({ kind: "Deployment", namespace: "shop", name: "web" });
});

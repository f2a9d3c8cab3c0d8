// The transport honours in-cluster config: the ServiceAccount token file (re-read as it rotates)
// and the cluster CA, against the real apiserver.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import { ApiError, Transport } from "../../src/kube/transport.ts";
import { Pods, ServiceAccounts } from "../../src/kube/resources.ts";
import { serviceAccountToken, testCluster, useNamespace } from "../support/cluster.ts";

describe("in-cluster configuration", () => {
  test("uses the mounted token and CA, and picks up a rotated token", async () => {
    const c = await testCluster();
    const ns = await useNamespace("incluster");
    await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "robot" } });
    const mount = mkdtempSync(join(tmpdir(), "podlogreader-sa-"));
    try {
      writeFileSync(join(mount, "ca.crt"), c.caPem);
      writeFileSync(join(mount, "namespace"), ns);
      writeFileSync(join(mount, "token"), "not-a-valid-token");
      const url = new URL(c.server);
      const connection = loadConnection({
        env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
        inClusterDir: mount,
      });
      expect(connection.namespace).toBe(ns);
      const api = new KubeApi(new Transport(connection));

      const refused = await api.list(Pods, { namespace: ns }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toBe(401);

      // The kubelet rotates the projected token in place; after a 401 the transport reads it again.
      writeFileSync(join(mount, "token"), await serviceAccountToken(ns, "robot"));
      const forbidden = await api.list(Pods, { namespace: ns }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(forbidden).toBeInstanceOf(ApiError);
      expect((forbidden as ApiError).status).toBe(403);
      expect((forbidden as ApiError).message).toContain(`system:serviceaccount:${ns}:robot`);
    } finally {
      rmSync(mount, { recursive: true, force: true });
    }
  });
});

describe("lists", () => {
  test("a list of several pages hands each page to onPage as it comes, the same objects as one whole list", async () => {
    const { admin } = await testCluster();
    const ns = await useNamespace("pages");
    for (let i = 0; i < 5; i++)
      await admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `sa-${i}` } });
    const whole = await admin.list(ServiceAccounts, { namespace: ns });
    const pages: string[][] = [];
    const paged = await admin.list(ServiceAccounts, {
      namespace: ns,
      pageSize: 2,
      onPage: (items) => pages.push(items.map((o) => (o as { metadata: { name: string } }).metadata.name)),
    });
    expect(paged.items).toEqual([]);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    for (const page of pages) expect(page.length).toBeLessThanOrEqual(2);
    expect(pages.flat().sort()).toEqual(whole.items.map((o) => (o as { metadata: { name: string } }).metadata.name).sort());
    expect(Number(paged.resourceVersion)).toBeGreaterThan(0);
  });
});

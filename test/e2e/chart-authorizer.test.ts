// The chart with the webhook authorizer on, installed with helm on the local control plane: the
// certificate the chart makes is kept on upgrade, and the controller, run with the Deployment's
// arguments as its ServiceAccount and the files the pod would mount, answers a caller that holds a
// client certificate of the client CA and verifies the webhook by the Service's name with the
// Secret's ca.crt. (kwok runs no container, so the pod's process is run here; the apiserver of
// this cluster is not configured to call the chart's webhook: test/e2e/webhook-authorizer.test.ts covers
// what the apiserver does with its answers.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkServerIdentity } from "node:tls";
import type { V1ConfigMap, V1Deployment, V1Secret } from "@kubernetes/client-node";
import { selfSigned, signLeaf } from "../../scripts/harness/pki.ts";
import { managedName } from "../../src/access/names.ts";
import { helmDeploy, helmOk, hostArgs, parseManifests, runAsServiceAccount, type Running } from "../support/chart.ts";
import { eventually, testCluster, useNamespace } from "../support/cluster.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { kubectl } from "../support/process.ts";

let helmHome: string;
let dir: string;

/** A CA that signs the apiserver's client certificate, and such a certificate. */
function clientPki(): { caPem: string; certPem: string; keyPem: string; strangerCertPem: string; strangerKeyPem: string } {
  const ca = selfSigned(dir, "ca", { subject: "/CN=webhook client CA", days: 1 });
  const client = signLeaf(dir, "client", { subject: "/CN=kube-apiserver", ca: "ca", days: 1, extendedKeyUsage: "clientAuth" });
  // Self-signed, with the same subject: not signed by the client CA.
  const stranger = selfSigned(dir, "stranger", { subject: "/CN=kube-apiserver", days: 1 }, ["extendedKeyUsage=clientAuth"]);
  return { caPem: ca.cert, certPem: client.cert, keyPem: client.key, strangerCertPem: stranger.cert, strangerKeyPem: stranger.key };
}

async function live<T>(kind: string, ns: string, name: string): Promise<T> {
  const r = await kubectl(["get", kind, name, "-n", ns, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as T;
}

function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

interface Answer {
  status: number;
  body: { status?: { allowed?: boolean; denied?: boolean; reason?: string } };
}

/** POSTs a SubjectAccessReview to the webhook, verifying it as `serverName` with `caPem`. */
function review(
  port: number,
  tls: { caPem: string; serverName: string; certPem?: string; keyPem?: string },
  spec: object,
): Promise<Answer> {
  const body = JSON.stringify({ apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/authorize",
        method: "POST",
        ca: tls.caPem,
        cert: tls.certPem,
        key: tls.keyPem,
        checkServerIdentity: (_host, cert) => checkServerIdentity(tls.serverName, cert),
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("installed with helm, the webhook authorizer on with the chart's certificate", () => {
  const release = "plauthz";
  /** The objects' base name (release and chart). */
  const full = `${release}-podlogreader`;
  let ns: string;
  let pki: ReturnType<typeof clientPki>;
  let values: Record<string, unknown>;
  let secretData: Record<string, string>;
  let controller: Running | undefined;
  let port: number;

  beforeAll(async () => {
    await testCluster();
    helmHome = mkdtempSync(join(tmpdir(), "podlogreader-helm-"));
    dir = mkdtempSync(join(tmpdir(), "podlogreader-chart-authz-"));
    pki = clientPki();
    ns = await useNamespace("chart-authz");
    values = {
      "image.repository": "registry.invalid/podlogreader",
      watchNamespaces: [ns],
      createServiceAccountAndRoleBinding: true,
      leaderElection: { leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s" },
      "authorizer.enabled": true,
      "authorizer.clientCA.pem": pki.caPem,
    };
  });
  afterAll(async () => {
    await controller?.stop();
  });

  test("helm install makes the Secret with ca.crt, tls.crt and tls.key, and the notes print the authorizer-config command", async () => {
    const out = await helmDeploy("install", release, ns, values, helmHome);
    expect(out).toContain(`podlogreader authorizer-config --server-url https://${full}-authorizer.${ns}.svc:8443 --ca-file serving-ca.crt`);
    const secret = await live<V1Secret>("secret", ns, `${full}-authorizer-tls`);
    expect(Object.keys(secret.data!).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
    secretData = secret.data!;
  }, 180_000);

  test("helm upgrade keeps the CA and the certificate, and does not roll the pods for them", async () => {
    const before = await live<V1Deployment>("deployment", ns, full);
    await helmDeploy("upgrade", release, ns, { ...values, logLevel: "debug" }, helmHome);
    expect((await live<V1Secret>("secret", ns, `${full}-authorizer-tls`)).data).toEqual(secretData);
    const after = await live<V1Deployment>("deployment", ns, full);
    expect(after.spec!.template.metadata!.annotations!["podlogreader.dev/authorizer-inputs"]).toBe(
      before.spec!.template.metadata!.annotations!["podlogreader.dev/authorizer-inputs"],
    );
  }, 180_000);

  test("the controller, with the Deployment's arguments and the mounted files, as its ServiceAccount, serves the webhook to the " +
    "apiserver's certificate only", async () => {
    const manifests = parseManifests(await helmOk(["get", "manifest", release, "-n", ns], helmHome));
    const d = manifests.find((m) => m.kind === "Deployment") as unknown as V1Deployment;
    const pod = d.spec!.template.spec!;
    // The pod's volumes, written where the container would see them, under this test's directory.
    const root = join(dir, "root");
    for (const mount of pod.containers[0]!.volumeMounts!) {
      const volume = pod.volumes!.find((v) => v.name === mount.name)!;
      const data: Record<string, string> = volume.secret
        ? Object.fromEntries(
            Object.entries((await live<V1Secret>("secret", ns, volume.secret.secretName!)).data!).map(([k, v]) => [
              k,
              Buffer.from(v, "base64").toString("utf8"),
            ]),
          )
        : (await live<V1ConfigMap>("configmap", ns, volume.configMap!.name!)).data!;
      mkdirSync(join(root, mount.mountPath), { recursive: true });
      for (const item of (volume.secret ?? volume.configMap)!.items!)
        writeFileSync(join(root, mount.mountPath, item.path), data[item.key]!);
    }
    port = freePort();
    const args = hostArgs(pod.containers[0]!.args!).map((a) =>
      a.startsWith("--authorizer-addr=")
        ? `--authorizer-addr=127.0.0.1:${port}`
        : /^--authorizer-(tls-cert|tls-key|client-ca)-file=/.test(a)
          ? a.replace("=", `=${root}`)
          : a,
    );
    await createDeployment(ns, "web", { replicas: 1 });
    await createDeployment(ns, "other", { replicas: 1 });
    controller = await runAsServiceAccount(ns, pod.serviceAccountName!, [...args, "--log-format=text"]);
    const [web] = await waitForPods(ns, "web", 1);
    const [other] = await waitForPods(ns, "other", 1);
    await expectReadable(ns, managedName("Deployment", "web"), [web!]);

    const serving = { caPem: Buffer.from(secretData["ca.crt"]!, "base64").toString("utf8"), serverName: `${full}-authorizer.${ns}.svc` };
    const apiserver = { ...serving, certPem: pki.certPem, keyPem: pki.keyPem };
    const user = `system:serviceaccount:${ns}:${managedName("Deployment", "web")}`;
    const logOf = (name: string) => ({
      user,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
      resourceAttributes: { namespace: ns, verb: "get", resource: "pods", subresource: "log", name },
    });
    const allowed = await eventually(
      "the webhook to answer once the caches have synced",
      async () => {
        const a = await review(port, apiserver, logOf(web!)).catch(() => undefined);
        return a?.body.status?.allowed === true ? a : undefined;
      },
      60_000,
    );
    expect(allowed.status).toBe(200);
    expect((await review(port, apiserver, logOf(other!))).body.status).toEqual(expect.objectContaining({ allowed: false }));
    expect((await review(port, apiserver, logOf(other!))).body.status?.denied).not.toBe(true);
    // Anyone without the client CA's certificate, or verifying another name, does not get an answer.
    await expect(review(port, serving, logOf(web!))).rejects.toThrow();
    await expect(review(port, { ...serving, certPem: pki.strangerCertPem, keyPem: pki.strangerKeyPem }, logOf(web!))).rejects.toThrow();
    await expect(review(port, { ...apiserver, serverName: `${full}-metrics.${ns}.svc` }, logOf(web!))).rejects.toThrow();
    expect(controller.log.filter((l) => /\b403\b|forbidden|deciding failed/i.test(l))).toEqual([]);
  }, 180_000);

  test("helm uninstall removes the Service, the Secret and the client CA ConfigMap", async () => {
    await controller?.stop();
    controller = undefined;
    const names = [
      ["service", `${full}-authorizer`],
      ["secret", `${full}-authorizer-tls`],
      ["configmap", `${full}-authorizer-client-ca`],
    ] as const;
    for (const [kind, name] of names)
      expect((await kubectl(["get", kind, name, "-n", ns, "-o", "name"])).stdout.trim()).toBe(`${kind}/${name}`);
    await helmOk(["uninstall", release, "-n", ns, "--no-hooks", "--wait"], helmHome);
    for (const [kind, name] of names) {
      expect((await kubectl(["get", kind, name, "-n", ns, "--ignore-not-found", "-o", "name"])).stdout).toBe("");
    }
  }, 180_000);
});

// Every authentication and connection field of a kubeconfig, each tried against the local
// apiserver through the real Transport. Who the apiserver took us for is asked of the apiserver
// itself (SelfSubjectReview), so a field that was silently dropped cannot pass.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { ConfigError, loadConnection, type Connection, type LoadOptions } from "../../src/kube/config.ts";
import type { KubeconfigCluster, KubeconfigUser } from "../../src/kube/kubeconfig.ts";
import { ApiError, TlsVerificationError, Transport } from "../../src/kube/transport.ts";
import { ServiceAccounts } from "../../src/kube/resources.ts";
import { type Pem, signLeaf } from "../../scripts/harness/pki.ts";
import { startConnectProxy } from "../support/connect-proxy.ts";
import { testExecPlugin } from "../support/exec-plugin.ts";
import { serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";

interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Who the apiserver authenticated the connection as. */
async function whoAmI(connection: Connection): Promise<UserInfo> {
  const review = (await new Transport(connection).json({
    method: "POST",
    path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  })) as { status: { userInfo: UserInfo } };
  return review.status.userInfo;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

let c: TestCluster;
let ns: string;
let robotToken: string;
let dir: string;
let files = 0;

/** A cluster entry for the local apiserver, changed by `overrides`. */
function localCluster(overrides: Partial<KubeconfigCluster> = {}): KubeconfigCluster {
  return { server: c.server, "certificate-authority-data": b64(c.caPem), ...overrides };
}

/** Writes a one-context kubeconfig (JSON is YAML) and returns its path. */
function writeKubeconfig(user: KubeconfigUser, cluster: KubeconfigCluster = localCluster(), at = dir): string {
  const file = join(at, `kubeconfig-${files++}`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "local", cluster }],
      users: [{ name: "someone", user }],
      contexts: [{ name: "local", context: { cluster: "local", user: "someone", namespace: ns } }],
      "current-context": "local",
    }),
  );
  return file;
}

function load(options: LoadOptions): Connection {
  return loadConnection({ env: {}, stdinIsTerminal: false, ...options });
}

/** A client certificate signed by the cluster's CA, for a user of this name. */
const clientCertificate = (commonName: string): Pem =>
  signLeaf(mkdtempSync(join(dir, "cert-")), "client", {
    subject: `/CN=${commonName}`,
    ca: join(c.dir, "pki", "ca"),
    days: 1,
    extendedKeyUsage: "clientAuth",
  });

/** A serving certificate signed by the cluster's CA, for 127.0.0.1. */
const servingCertificate = (): Pem =>
  signLeaf(mkdtempSync(join(dir, "serving-")), "serving", {
    subject: "/CN=proxy",
    ca: join(c.dir, "pki", "ca"),
    days: 1,
    subjectAltName: "IP:127.0.0.1",
    keyUsage: false,
    extendedKeyUsage: "serverAuth",
  });

function refusal(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected an error");
    },
    (err: Error) => err,
  );
}

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("kubeconfig");
  await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "robot" } });
  robotToken = await serviceAccountToken(ns, "robot");
  dir = mkdtempSync(join(tmpdir(), "podlogreader-kubeconfig-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const robot = () => `system:serviceaccount:${ns}:robot`;

describe("user credentials", () => {
  test("client-certificate and client-key files, relative to the kubeconfig", async () => {
    const { cert, key } = clientCertificate("file-cert-user");
    const sub = mkdtempSync(join(dir, "files-"));
    mkdirSync(join(sub, "certs"));
    writeFileSync(join(sub, "certs", "user.crt"), cert);
    writeFileSync(join(sub, "certs", "user.key"), key);
    const file = writeKubeconfig({ "client-certificate": "certs/user.crt", "client-key": "certs/user.key" }, localCluster(), sub);
    expect((await whoAmI(load({ kubeconfig: file }))).username).toBe("file-cert-user");
  });

  test("client-certificate-data and client-key-data", async () => {
    const { cert, key } = clientCertificate("data-cert-user");
    const file = writeKubeconfig({ "client-certificate-data": b64(cert), "client-key-data": b64(key) });
    expect((await whoAmI(load({ kubeconfig: file }))).username).toBe("data-cert-user");
  });

  test("a client certificate given both as a file and as data is refused, naming the field", () => {
    const { cert, key } = clientCertificate("twice");
    writeFileSync(join(dir, "twice.crt"), cert);
    const file = writeKubeconfig({
      "client-certificate": join(dir, "twice.crt"),
      "client-certificate-data": b64(cert),
      "client-key-data": b64(key),
    });
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`${file}: users["someone"].user.client-certificate is set both as a file and as -data`);
  });

  test("token", async () => {
    const file = writeKubeconfig({ token: robotToken });
    expect((await whoAmI(load({ kubeconfig: file }))).username).toBe(robot());
  });

  test("tokenFile, relative to the kubeconfig, wins over token as in client-go", async () => {
    const sub = mkdtempSync(join(dir, "tokenfile-"));
    writeFileSync(join(sub, "token"), `${robotToken}\n`);
    const file = writeKubeconfig({ token: "not-a-valid-token", tokenFile: "token" }, localCluster(), sub);
    expect((await whoAmI(load({ kubeconfig: file }))).username).toBe(robot());
  });

  test("impersonation: as, as-uid, as-groups and as-user-extra reach the apiserver", async () => {
    const { cert, key } = readAdmin();
    const file = writeKubeconfig({
      "client-certificate-data": b64(cert),
      "client-key-data": b64(key),
      as: "jane",
      "as-uid": "1234",
      "as-groups": ["developers"],
      "as-user-extra": { "example.com/team": ["blue"] },
    });
    const me = await whoAmI(load({ kubeconfig: file }));
    expect(me.username).toBe("jane");
    expect(me.uid).toBe("1234");
    expect(me.groups).toContain("developers");
    expect(me.extra?.["example.com/team"]).toEqual(["blue"]);
  });

  test("several as-groups are refused, naming the field (fetch would join them into one group)", () => {
    const file = writeKubeconfig({ token: robotToken, as: "jane", "as-groups": ["developers", "auditors"] });
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`users["someone"].user.as-groups lists 2 groups`);
  });

  test("username and password are sent as basic auth (the apiserver has none, so a recording server shows it)", async () => {
    const seen: (string | null)[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: servingCertificate(),
      fetch(req) {
        seen.push(req.headers.get("authorization"));
        return Response.json({ status: { userInfo: { username: "recorded" } } }, { status: 201 });
      },
    });
    try {
      const file = writeKubeconfig({ username: "jane", password: "s3cret" }, localCluster({ server: `https://127.0.0.1:${server.port}` }));
      await whoAmI(load({ kubeconfig: file }));
      expect(seen).toEqual([`Basic ${b64("jane:s3cret")}`]);
    } finally {
      server.stop(true);
    }
  });

  test("auth-provider is refused, naming the field", () => {
    const file = writeKubeconfig({ "auth-provider": { name: "oidc", config: {} } });
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`users["someone"].user.auth-provider (oidc) is not supported`);
  });

  test("two ways to authenticate in one user are refused", () => {
    const plugin = testExecPlugin([{ token: robotToken }]);
    const file = writeKubeconfig({ token: robotToken, exec: plugin.exec });
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("more than one way to authenticate (token/tokenFile, exec)");
  });
});

function readAdmin(): { cert: string; key: string } {
  const pki = join(c.dir, "pki");
  return { cert: readFileSync(join(pki, "admin.crt"), "utf8"), key: readFileSync(join(pki, "admin.key"), "utf8") };
}

describe("exec credential plugins", () => {
  test("a plugin's token is used and, without an expirationTimestamp, cached", async () => {
    const plugin = testExecPlugin([{ token: robotToken }]);
    const connection = load({ kubeconfig: writeKubeconfig({ exec: plugin.exec }) });
    expect((await whoAmI(connection)).username).toBe(robot());
    expect((await whoAmI(connection)).username).toBe(robot());
    expect(plugin.calls()).toBe(1);
  });

  test("concurrent first requests share one run of the plugin", async () => {
    const plugin = testExecPlugin([{ token: robotToken }]);
    const connection = load({ kubeconfig: writeKubeconfig({ exec: plugin.exec }) });
    const users = await Promise.all(Array.from({ length: 5 }, () => whoAmI(connection)));
    expect(users.map((u) => u.username)).toEqual(Array(5).fill(robot()));
    expect(plugin.calls()).toBe(1);
  });

  test("a plugin's client certificate and key are presented; provideClusterInfo hands it the cluster", async () => {
    const { cert, key } = clientCertificate("exec-cert-user");
    const plugin = testExecPlugin([{ clientCertificateData: cert, clientKeyData: key }], { provideClusterInfo: true });
    const connection = load({ kubeconfig: writeKubeconfig({ exec: plugin.exec }) });
    expect((await whoAmI(connection)).username).toBe("exec-cert-user");
    const [info] = plugin.execInfos();
    expect(info!.spec.interactive).toBe(false);
    expect(info!.spec.cluster).toMatchObject({ server: c.server, "certificate-authority-data": b64(c.caPem) });
  });

  test("a credential is used until its expirationTimestamp, then the plugin runs again", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const lasting = testExecPlugin([{ token: robotToken, expirationTimestamp: future }]);
    const lastingConnection = load({ kubeconfig: writeKubeconfig({ exec: lasting.exec }) });
    await whoAmI(lastingConnection);
    await whoAmI(lastingConnection);
    expect(lasting.calls()).toBe(1);

    const past = new Date(Date.now() - 1_000).toISOString();
    const expired = testExecPlugin([{ token: robotToken, expirationTimestamp: past }]);
    const expiredConnection = load({ kubeconfig: writeKubeconfig({ exec: expired.exec }) });
    await whoAmI(expiredConnection);
    await whoAmI(expiredConnection);
    expect(expired.calls()).toBe(2);
  });

  test("after a 401 the cached credential is dropped and the plugin runs again", async () => {
    const plugin = testExecPlugin([{ token: "revoked-token" }, { token: robotToken }]);
    const connection = load({ kubeconfig: writeKubeconfig({ exec: plugin.exec }) });
    expect((await whoAmI(connection)).username).toBe(robot());
    expect(plugin.calls()).toBe(2);
  });

  test("a plugin that keeps returning a rejected token ends in a 401, not a loop", async () => {
    const plugin = testExecPlugin([{ token: "revoked-token" }]);
    const connection = load({ kubeconfig: writeKubeconfig({ exec: plugin.exec }) });
    const err = await rejection(whoAmI(connection));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    expect(plugin.calls()).toBe(2);
  });

  test("a plugin that is not installed fails the request with its installHint", async () => {
    const file = writeKubeconfig({
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: "./no-such-plugin",
        interactiveMode: "Never",
        installHint: "Install no-such-plugin from example.com",
      },
    });
    const err = await rejection(whoAmI(load({ kubeconfig: file })));
    expect(err.message).toContain(`users["someone"].user.exec: cannot run ${join(dir, "no-such-plugin")}`);
    expect(err.message).toContain("Install no-such-plugin from example.com");
  });

  test("interactiveMode Always without a terminal is an error, not a hang", async () => {
    const plugin = testExecPlugin([{ token: robotToken }], { interactiveMode: "Always" });
    const err = await rejection(whoAmI(load({ kubeconfig: writeKubeconfig({ exec: plugin.exec }) })));
    expect(err.message).toContain("interactiveMode is Always but stdin is not a terminal");
    expect(plugin.calls()).toBe(0);
  });

  test("an exec stanza without apiVersion is refused, naming the field", () => {
    const plugin = testExecPlugin([{ token: robotToken }], { apiVersion: undefined });
    const file = writeKubeconfig({ exec: plugin.exec });
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`users["someone"].user.exec.apiVersion is missing`);
  });
});

describe("cluster connection", () => {
  test("certificate-authority as a file", async () => {
    writeFileSync(join(dir, "ca.crt"), c.caPem);
    const file = writeKubeconfig({ token: robotToken }, { server: c.server, "certificate-authority": "ca.crt" });
    expect((await whoAmI(load({ kubeconfig: file }))).username).toBe(robot());
  });

  test("insecure-skip-tls-verify stays refused", () => {
    const file = writeKubeconfig({ token: robotToken }, localCluster({ "insecure-skip-tls-verify": true }));
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`clusters["local"].cluster.insecure-skip-tls-verify is set`);
  });

  test("tls-server-name: the certificate is checked against that name, not the server's address", async () => {
    // The apiserver's certificate names 127.0.0.1, localhost and kubernetes.default among others.
    const url = new URL(c.server);
    const byName = writeKubeconfig({ token: robotToken }, localCluster({ "tls-server-name": "kubernetes.default" }));
    expect((await whoAmI(load({ kubeconfig: byName }))).username).toBe(robot());

    const wrongName = writeKubeconfig({ token: robotToken }, localCluster({ "tls-server-name": "not-in-the-cert.example" }));
    const err = await rejection(whoAmI(load({ kubeconfig: wrongName })));
    expect(err).toBeInstanceOf(TlsVerificationError);
    expect(err.message).toContain(`not valid for the name "not-in-the-cert.example"`);

    // And the reverse: the apiserver reached at an address its certificate does not name
    // (127.0.0.2, forwarded to it), verified against a name the certificate has.
    const open = new Set<Socket>();
    const forward = createServer((client) => {
      open.add(client);
      client.on("close", () => open.delete(client));
      const upstream = connect(Number(url.port), "127.0.0.1");
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((ok) => forward.listen(0, "127.0.0.2", ok));
    try {
      const other = `https://127.0.0.2:${(forward.address() as { port: number }).port}`;
      const unnamed = writeKubeconfig({ token: robotToken }, localCluster({ server: other }));
      expect(await rejection(whoAmI(load({ kubeconfig: unnamed })))).toBeInstanceOf(TlsVerificationError);
      const named = writeKubeconfig({ token: robotToken }, localCluster({ server: other, "tls-server-name": "kubernetes" }));
      expect((await whoAmI(load({ kubeconfig: named }))).username).toBe(robot());
    } finally {
      for (const socket of open) socket.destroy();
      forward.close();
    }
  });

  test("proxy-url http://: every request is tunnelled through the proxy with CONNECT", async () => {
    const proxy = await startConnectProxy();
    try {
      const file = writeKubeconfig({ token: robotToken }, localCluster({ "proxy-url": proxy.url }));
      const connection = load({ kubeconfig: file });
      expect((await whoAmI(connection)).username).toBe(robot());
      expect((await whoAmI(connection)).username).toBe(robot());
      const target = new URL(c.server).host;
      expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
      expect(proxy.tunnels.every((t) => t === target)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  test("proxy-url https://: the proxy is reached over TLS (verified with the same CA) and tunnels the requests", async () => {
    const proxy = await startConnectProxy({ tls: servingCertificate() });
    try {
      const file = writeKubeconfig({ token: robotToken }, localCluster({ "proxy-url": proxy.url }));
      expect((await whoAmI(load({ kubeconfig: file }))).username).toBe(robot());
      expect(proxy.tunnels).toEqual([new URL(c.server).host]);
    } finally {
      await proxy.close();
    }
  });

  test("disable-compression: the apiserver no longer gzips a large response", async () => {
    // The OpenAPI document is megabytes, far above the apiserver's compression threshold.
    const encoding = async (cluster: KubeconfigCluster) => {
      const response = await new Transport(load({ kubeconfig: writeKubeconfig({ token: robotToken }, cluster) })).request({
        path: "/openapi/v2",
      });
      await response.body?.cancel();
      return response.headers.get("content-encoding");
    };
    expect(await encoding(localCluster())).toBe("gzip");
    expect(await encoding(localCluster({ "disable-compression": true }))).toBeNull();
  });

  test("a socks5 proxy-url is refused, naming the field", () => {
    const file = writeKubeconfig({ token: robotToken }, localCluster({ "proxy-url": "socks5://127.0.0.1:1080" }));
    const err = refusal(() => load({ kubeconfig: file }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`clusters["local"].cluster.proxy-url "socks5://127.0.0.1:1080": only http:// and https:// proxies`);
  });
});

describe("choosing and merging", () => {
  test("KUBECONFIG with two files merges as kubectl: the first file wins per name and for current-context", async () => {
    const first = mkdtempSync(join(dir, "first-"));
    const second = mkdtempSync(join(dir, "second-"));
    const { cert, key } = clientCertificate("merged-user");
    writeFileSync(join(second, "user.crt"), cert);
    writeFileSync(join(second, "user.key"), key);
    writeFileSync(
      join(first, "config"),
      JSON.stringify({
        clusters: [{ name: "local", cluster: localCluster() }],
        contexts: [{ name: "first", context: { cluster: "local", user: "merged", namespace: "from-first" } }],
        "current-context": "first",
      }),
    );
    writeFileSync(
      join(second, "config"),
      JSON.stringify({
        // Same cluster name as the first file: ignored, so this unreachable server is never used.
        clusters: [{ name: "local", cluster: { server: "https://127.0.0.1:1", "certificate-authority-data": b64(c.caPem) } }],
        // Relative paths resolve against this file's directory.
        users: [{ name: "merged", user: { "client-certificate": "user.crt", "client-key": "user.key" } }],
        contexts: [
          { name: "first", context: { cluster: "local", user: "merged", namespace: "from-second" } },
          { name: "second", context: { cluster: "local", user: "merged", namespace: "second-ns" } },
        ],
        "current-context": "second",
      }),
    );
    const env = { KUBECONFIG: `${join(first, "config")}:${join(dir, "does-not-exist")}:${join(second, "config")}` };
    const connection = load({ env });
    expect(connection.namespace).toBe("from-first");
    expect(connection.server).toBe(c.server);
    expect((await whoAmI(connection)).username).toBe("merged-user");

    const chosen = load({ env, context: "second" });
    expect(chosen.namespace).toBe("second-ns");
    expect((await whoAmI(chosen)).username).toBe("merged-user");
  });

  test("the context option picks another context, its user and its namespace", async () => {
    const { cert, key } = readAdmin();
    const file = join(dir, "two-contexts");
    writeFileSync(
      file,
      JSON.stringify({
        clusters: [{ name: "local", cluster: localCluster() }],
        users: [
          { name: "admin", user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } },
          { name: "robot", user: { token: robotToken } },
        ],
        contexts: [
          { name: "admin", context: { cluster: "local", user: "admin", namespace: "kube-system" } },
          { name: "robot", context: { cluster: "local", user: "robot", namespace: ns } },
        ],
        "current-context": "admin",
      }),
    );
    const current = load({ kubeconfig: file });
    expect(current.namespace).toBe("kube-system");
    expect((await whoAmI(current)).username).toBe("podlogreader-admin");

    const chosen = load({ kubeconfig: file, context: "robot" });
    expect(chosen.namespace).toBe(ns);
    expect((await whoAmI(chosen)).username).toBe(robot());

    const err = refusal(() => load({ kubeconfig: file, context: "nope" }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`${file}: context "nope" does not exist`);
  });
});

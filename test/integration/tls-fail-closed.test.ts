// TLS verification cannot be switched off: with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment
// of the process that makes the request, a server whose certificate comes from another CA, or
// names another host, is refused before it sees a single request, so it never gets the token.
// An http:// server is refused before any request is made.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { makeCa, type Pem, signLeaf } from "../../scripts/harness/pki.ts";
import type { RequestOutcome } from "../support/request-once.ts";

const TOKEN = "secret-token-that-must-not-leak";
const b64 = (s: string) => Buffer.from(s).toString("base64");

let dir: string;
/** The CA the kubeconfigs trust. */
let trustedCa: string;

/** A CA of its own in `dir`: `<name>.crt` and `<name>.key`. */
const makeTestCa = (name: string): Pem => makeCa(dir, name, { subject: `/CN=${name}`, days: 1 });

/** A serving certificate signed by `ca` for the given subjectAltName. */
const servingCert = (name: string, ca: string, subjectAltName: string): Pem =>
  signLeaf(dir, name, { subject: `/CN=${name}`, ca, days: 1, subjectAltName, keyUsage: false, extendedKeyUsage: "serverAuth" });

/** A server that answers like /version and records the Authorization header of every request it gets. */
function recordingServer(tls?: { cert: string; key: string }): { server: Server<undefined>; requests: (string | null)[] } {
  const requests: (string | null)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls,
    fetch(req) {
      requests.push(req.headers.get("authorization"));
      return Response.json({ major: "1", minor: "37", gitVersion: "v1.37.2" });
    },
  });
  return { server, requests };
}

function kubeconfig(server: string): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    JSON.stringify({
      clusters: [{ name: "local", cluster: { server, "certificate-authority-data": b64(trustedCa) } }],
      users: [{ name: "user", user: { token: TOKEN } }],
      contexts: [{ name: "local", context: { cluster: "local", user: "user" } }],
      "current-context": "local",
    }),
  );
  return file;
}

/**
 * One request through the Transport in a child bun process whose environment turns verification
 * off. Spawned asynchronously: the recording servers live in this process and must keep serving.
 */
async function requestInChild(kubeconfigFile: string): Promise<RequestOutcome> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "support", "request-once.ts"), kubeconfigFile], {
    env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`request-once exited with ${code}: ${stderr}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as RequestOutcome;
}

const servers: Server<undefined>[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "podlogreader-tls-"));
  trustedCa = makeTestCa("trusted-ca").cert;
  makeTestCa("other-ca");
});

afterAll(() => {
  for (const s of servers) s.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

describe("with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment", () => {
  test("a correctly verified server gets the request and the token (the recording works)", async () => {
    const { server, requests } = recordingServer(servingCert("good", "trusted-ca", "IP:127.0.0.1"));
    servers.push(server);
    expect(await requestInChild(kubeconfig(`https://127.0.0.1:${server.port}`))).toEqual({ ok: true });
    expect(requests).toEqual([`Bearer ${TOKEN}`]);
  });

  test("a server certificate from another CA is refused and the server receives no request", async () => {
    const { server, requests } = recordingServer(servingCert("foreign", "other-ca", "IP:127.0.0.1"));
    servers.push(server);
    const outcome = await requestInChild(kubeconfig(`https://127.0.0.1:${server.port}`));
    expect(outcome.error).toBe("TlsVerificationError");
    expect(requests).toEqual([]);
  });

  test("a server certificate for another host is refused and the server receives no request", async () => {
    const { server, requests } = recordingServer(servingCert("elsewhere", "trusted-ca", "DNS:elsewhere.example"));
    servers.push(server);
    const outcome = await requestInChild(kubeconfig(`https://127.0.0.1:${server.port}`));
    expect(outcome.error).toBe("TlsVerificationError");
    expect(outcome.message).toContain(`not valid for the name "127.0.0.1"`);
    expect(requests).toEqual([]);
  });
});

test("an http:// server is refused before any request, naming the kubeconfig and the field", async () => {
  const { server, requests } = recordingServer();
  servers.push(server);
  const file = kubeconfig(`http://127.0.0.1:${server.port}`);
  const outcome = await requestInChild(file);
  expect(outcome.error).toBe("ConfigError");
  expect(outcome.message).toContain(`${file}: clusters["local"].cluster.server "http://127.0.0.1:${server.port}" is not https`);
  expect(requests).toEqual([]);
});

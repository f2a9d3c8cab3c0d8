// podlogreader authorizer-config, and the webhook's HTTP handling short of TLS (which
// test/e2e/webhook-authorizer.test.ts covers on the real apiserver).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AUTHORIZER_CONFIG_FLAGS,
  parseAuthorizerConfig,
  writeAuthorizerConfig,
  type AuthorizerConfigOptions,
} from "../../../src/commands/authorizer-config.ts";
import { authorizationConfig, MATCH_CONDITIONS } from "../../../src/authorizer/config.ts";
import { handle } from "../../../src/authorizer/server.ts";
import { World } from "../../../src/access/membership.ts";
import type { RoleBinding } from "../../../src/kube/objects.ts";
import { createLogger } from "../../../src/log.ts";
import { commandHelp, splitCommand } from "../../../src/commands/registry.ts";

function capture() {
  return {
    text: "",
    write(s: string) {
      this.text += s;
    },
  };
}

/** What the command prints for these arguments (its parse, then its writing). */
function configure(argv: string[], out = capture()): string {
  writeAuthorizerConfig(parseAuthorizerConfig(argv) as AuthorizerConfigOptions, out);
  return out.text;
}

describe("podlogreader authorizer-config", () => {
  const dir = mkdtempSync(join(tmpdir(), "authz-config-"));
  for (const f of ["ca.crt", "client.crt", "client.key"]) writeFileSync(join(dir, f), `PEM of ${f}\n`);
  const args = [
    "--server-url",
    "https://10.0.0.5:8443",
    "--ca-file",
    join(dir, "ca.crt"),
    "--client-cert",
    join(dir, "client.crt"),
    "--client-key",
    join(dir, "client.key"),
  ];

  test("Node, RBAC, then the webhook: NoOpinion on failure, no decision cache, 3s, v1, only pod reads", () => {
    const [config, kubeconfig] = configure(args).split("\n---\n") as [string, string];
    expect(config).toContain("kind: AuthorizationConfiguration");
    expect(config.indexOf("type: Node")).toBeLessThan(config.indexOf("type: RBAC"));
    expect(config.indexOf("type: RBAC")).toBeLessThan(config.indexOf("type: Webhook"));
    for (const line of [
      "failurePolicy: NoOpinion",
      "cacheAuthorizedRequests: false",
      "cacheUnauthorizedRequests: false",
      "timeout: 3s",
      "subjectAccessReviewVersion: v1",
      "matchConditionSubjectAccessReviewVersion: v1",
      "type: KubeConfigFile",
    ]) {
      expect(config).toContain(line);
    }
    for (const e of MATCH_CONDITIONS) expect(config).toContain(JSON.stringify(e));
    expect(kubeconfig).toContain("server: https://10.0.0.5:8443/authorize");
    expect(kubeconfig).toContain(`certificate-authority-data: ${Buffer.from("PEM of ca.crt\n").toString("base64")}`);
    expect(kubeconfig).toContain(`client-key-data: ${Buffer.from("PEM of client.key\n").toString("base64")}`);
  });

  test("--tls-server-name is the name the apiserver checks in the serving certificate: tls-server-name in the cluster entry", () => {
    const [, kubeconfig] = configure([...args, "--tls-server-name", "podlogreader-authorizer.podlogreader.svc"]).split("\n---\n") as [
      string,
      string,
    ];
    const cluster = kubeconfig.slice(kubeconfig.indexOf("clusters:"), kubeconfig.indexOf("users:"));
    expect(cluster).toBe(
      "clusters:\n" +
        "- name: podlogreader-authorizer\n" +
        "  cluster:\n" +
        "    server: https://10.0.0.5:8443/authorize\n" +
        `    certificate-authority-data: ${Buffer.from("PEM of ca.crt\n").toString("base64")}\n` +
        '    tls-server-name: "podlogreader-authorizer.podlogreader.svc"\n',
    );
    expect(configure(args)).not.toContain("tls-server-name");
    expect(configure([...args, "--tls-server-name", "10.0.0.7"])).toContain('    tls-server-name: "10.0.0.7"\n');
    for (const bad of ["", "https://x.svc", "a b", "x.svc:8443"]) {
      expect(() => parseAuthorizerConfig([...args, "--tls-server-name", bad])).toThrow(
        "--tls-server-name must be a DNS name or an IP address",
      );
    }
  });

  test("--out-dir writes both files, the kubeconfig readable by its owner only", () => {
    const out = join(dir, "out");
    expect(configure([...args, "--out-dir", out, "--webhook-kubeconfig-path", "/etc/kubernetes/w.kubeconfig"])).toContain(
      `Wrote ${join(out, "authorization-config.yaml")}`,
    );
    expect(readFileSync(join(out, "authorization-config.yaml"), "utf8")).toBe(authorizationConfig("/etc/kubernetes/w.kubeconfig"));
    expect(statSync(join(out, "podlogreader-authorizer.kubeconfig")).mode & 0o777).toBe(0o600);
  });

  test("a missing flag or an http:// URL is a usage error; an unreadable file is an error naming it", () => {
    expect(() => parseAuthorizerConfig(args.slice(2))).toThrow("--server-url is required");
    expect(() => parseAuthorizerConfig(["--server-url", "http://x:1", ...args.slice(2)])).toThrow("must be an https:// URL");
    expect(() => configure([...args.slice(0, 3), join(dir, "missing"), ...args.slice(4)])).toThrow(join(dir, "missing"));
  });

  test("every flag is in --help, and the command is found after global flags", () => {
    const help = commandHelp("authorizer-config");
    for (const f of Object.values(AUTHORIZER_CONFIG_FLAGS)) expect(help).toContain(`--${f.name}`);
    expect(splitCommand(["authorizer-config", "--help"]).command).toBe("authorizer-config");
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

describe("the webhook's HTTP handling", () => {
  const log = createLogger("error", "text");
  const review = {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: { user: "u", resourceAttributes: { namespace: "ns", verb: "get", resource: "pods", subresource: "log", name: "p" } },
  };
  const deps = (ready: boolean) => ({ view: { world: new World(), bindings: () => [] }, gather: async () => ({}), ready: () => ready });
  const post = (body: string, path = "/authorize") => new Request(`https://x${path}`, { method: "POST", body });

  test("only POST /authorize is answered", async () => {
    expect((await handle(new Request("https://x/authorize"), deps(true), log)).status).toBe(405);
    expect((await handle(post("{}", "/other"), deps(true), log)).status).toBe(404);
    expect((await handle(post("x".repeat(300 * 1024)), deps(true), log)).status).toBe(413);
  });

  test("a body that is not JSON, and any review before the caches synced, get no opinion", async () => {
    for (const [body, ready] of [
      ["not json", true],
      [JSON.stringify(review), false],
    ] as const) {
      const r = await handle(post(body), deps(ready), log);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        status: { allowed: false },
      });
    }
  });
});

describe("the webhook's answers, counted", () => {
  test("each answer is counted by request and decision; a failure to decide is an error, and no opinion", async () => {
    const { Metrics } = await import("../../../src/telemetry/metrics.ts");
    const metrics = new Metrics();
    const log = createLogger("error", "text");
    const get = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user: "u", resourceAttributes: { namespace: "ns", verb: "get", resource: "pods", name: "p" } },
    };
    // A binding names u, so the webhook reads for u (and the read is what fails).
    const binding: RoleBinding = {
      metadata: { name: "podlogreader-web", namespace: "ns", uid: "b", resourceVersion: "1" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-web" },
      subjects: [{ kind: "User", name: "u", apiGroup: "rbac.authorization.k8s.io" }],
    };
    const view = { world: new World(), bindings: () => [binding] };
    const post = (body: unknown) => new Request("https://x/authorize", { method: "POST", body: JSON.stringify(body) });
    const failing = { view, gather: () => Promise.reject(new Error("timed out")), ready: () => true, metrics };
    expect(await (await handle(post(get), failing, log)).json()).toMatchObject({ status: { allowed: false } });
    await handle(post(get), { ...failing, gather: async () => ({}) }, log);
    await handle(
      post({ ...get, spec: { ...get.spec, resourceAttributes: { ...get.spec.resourceAttributes, resource: "secrets" } } }),
      failing,
      log,
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('podlogreader_authorizer_decisions_total{request="pod",decision="error"} 1');
    expect(text).toContain('podlogreader_authorizer_decisions_total{request="pod",decision="no-opinion"} 1');
    expect(text).toContain('podlogreader_authorizer_decisions_total{request="other",decision="no-opinion"} 1');
  });
});

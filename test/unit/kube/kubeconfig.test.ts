// Reading and merging kubeconfig files (kubectl's rules), and checking exec plugin output.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecCredentialError, parseExecCredential, validateExecConfig } from "../../../src/kube/exec-credential.ts";
import { KubeconfigError, parseKubeconfig, readKubeconfigs } from "../../../src/kube/kubeconfig.ts";

const dir = mkdtempSync(join(tmpdir(), "podlogreader-kubeconfig-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("readKubeconfigs", () => {
  test("the first file wins per name and for current-context; later files add new names", () => {
    const a = file("a", {
      clusters: [{ name: "c", cluster: { server: "https://a" } }],
      "current-context": "ctx-a",
    });
    const b = file("b", {
      clusters: [
        { name: "c", cluster: { server: "https://b" } },
        { name: "d", cluster: { server: "https://d" } },
      ],
      contexts: [{ name: "ctx-a", context: { cluster: "c" } }],
      "current-context": "ctx-b",
    });
    const kc = readKubeconfigs([a, b]);
    expect(kc.clusters.get("c")).toEqual({ name: "c", value: { server: "https://a" }, file: a });
    expect(kc.clusters.get("d")?.file).toBe(b);
    expect(kc.contexts.get("ctx-a")?.file).toBe(b);
    expect(kc.currentContext).toBe("ctx-a");
  });

  test("current-context comes from a later file when the first does not set it", () => {
    const a = file("no-current", { clusters: [] });
    const b = file("with-current", { "current-context": "x" });
    expect(readKubeconfigs([a, b]).currentContext).toBe("x");
  });

  test("relative paths resolve against the file's directory; a bare exec command stays a PATH lookup", () => {
    const kc = parseKubeconfig(
      JSON.stringify({
        clusters: [{ name: "c", cluster: { server: "https://x", "certificate-authority": "ca.crt" } }],
        users: [
          {
            name: "u",
            user: { "client-certificate": "u.crt", "client-key": "/abs/u.key", tokenFile: "t", exec: { command: "./bin/plugin" } },
          },
          { name: "v", user: { exec: { command: "kubelogin" } } },
        ],
      }),
      "/home/jane/.kube/config",
    );
    expect(kc.clusters.get("c")?.value["certificate-authority"]).toBe("/home/jane/.kube/ca.crt");
    const u = kc.users.get("u")!.value;
    expect([u["client-certificate"], u["client-key"], u.tokenFile, u.exec?.command]).toEqual([
      "/home/jane/.kube/u.crt",
      "/abs/u.key",
      "/home/jane/.kube/t",
      "/home/jane/.kube/bin/plugin",
    ]);
    expect(kc.users.get("v")!.value.exec?.command).toBe("kubelogin");
  });

  test("an empty file is an empty kubeconfig; a duplicate name in one file is an error", () => {
    expect(readKubeconfigs([file("empty", "")]).clusters.size).toBe(0);
    const dup = file("dup", {
      users: [
        { name: "u", user: {} },
        { name: "u", user: {} },
      ],
    });
    expect(() => readKubeconfigs([dup])).toThrow(new KubeconfigError(`${dup}: users: duplicate name "u"`));
  });
});

describe("exec plugins", () => {
  const v1 = "client.authentication.k8s.io/v1";

  test("the stanza is validated as clientcmd does", () => {
    expect(() => validateExecConfig({ command: "p", apiVersion: v1 }, "exec")).toThrow("exec.interactiveMode is required");
    expect(() => validateExecConfig({ command: "p", apiVersion: "client.authentication.k8s.io/v1alpha1" }, "exec")).toThrow(
      "is not supported",
    );
    expect(() => validateExecConfig({ command: "p", apiVersion: v1, interactiveMode: "Sometimes" }, "exec")).toThrow("is not one of");
    expect(() => validateExecConfig({ command: "p", apiVersion: "client.authentication.k8s.io/v1beta1" }, "exec")).not.toThrow();
  });

  test("output must be an ExecCredential of the configured apiVersion with a token or a whole key pair", () => {
    const out = (status: unknown, apiVersion = v1) => JSON.stringify({ apiVersion, kind: "ExecCredential", status });
    expect(parseExecCredential(out({ token: "t" }), v1, "p")).toEqual({ token: "t" });
    expect(() => parseExecCredential(out({ token: "t" }, "client.authentication.k8s.io/v1beta1"), v1, "p")).toThrow("apiVersion");
    expect(() => parseExecCredential(out({ clientCertificateData: "c" }), v1, "p")).toThrow(ExecCredentialError);
    expect(() => parseExecCredential(out({}), v1, "p")).toThrow("neither status.token nor a client certificate");
    expect(() => parseExecCredential(out({ token: "t", expirationTimestamp: "soon" }), v1, "p")).toThrow("RFC 3339");
    expect(() => parseExecCredential("not json", v1, "p")).toThrow("as JSON");
  });
});

// `podlogreader authorizer-config`: the apiserver's AuthorizationConfiguration and the webhook's
// kubeconfig, printed or written to a directory.
import * as v from "valibot";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { authorizationConfig, DEFAULT_WEBHOOK_KUBECONFIG_PATH, webhookKubeconfig } from "../authorizer/config.ts";
import { helpFlag } from "../flags/common.ts";
import { isObjectName } from "../kube/names.ts";
import { flag, parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { defineCommand, type HelpRequest } from "./command.ts";

const file = (name: string, help: string) =>
  flag({ name, kind: "string", value: "FILE", help }, v.pipe(v.string(`--${name} is required`), v.minLength(1, `--${name} is required`)));

export const AUTHORIZER_CONFIG_FLAGS = {
  serverUrl: flag(
    {
      name: "server-url",
      kind: "string",
      value: "URL",
      help: "How the apiserver reaches the controller's --authorizer-addr, e.g. https://10.0.0.5:8443 (the path /authorize is added).",
    },
    v.pipe(
      v.string("--server-url is required"),
      v.check((s) => URL.canParse(s) && new URL(s).protocol === "https:", "--server-url must be an https:// URL"),
    ),
  ),
  caFile: file("ca-file", "The CA (PEM) that signed --authorizer-tls-cert-file; the apiserver verifies the webhook with it."),
  clientCert: file(
    "client-cert",
    "The apiserver's client certificate (PEM) for the webhook, signed by the controller's --authorizer-client-ca-file.",
  ),
  clientKey: file("client-key", "The key of --client-cert (PEM)."),
  tlsServerName: flag(
    {
      name: "tls-server-name",
      kind: "string",
      value: "NAME",
      help:
        "The name the apiserver checks in the webhook's serving certificate, when it is not --server-url's host (a URL by IP " +
        "address, e.g. a Service's ClusterIP, for a certificate issued to podlogreader-authorizer.podlogreader.svc). Written as " +
        "tls-server-name in the webhook kubeconfig. Default: the host of --server-url.",
    },
    v.optional(
      v.pipe(
        v.string(),
        v.check((s) => isObjectName(s) || isIP(s) !== 0, "--tls-server-name must be a DNS name or an IP address"),
      ),
    ),
  ),
  kubeconfigPath: flag(
    {
      name: "webhook-kubeconfig-path",
      kind: "string",
      value: "PATH",
      default: DEFAULT_WEBHOOK_KUBECONFIG_PATH,
      help: "Where the webhook kubeconfig will be on the apiserver's host; written into the AuthorizationConfiguration.",
    },
    v.pipe(v.string(), v.minLength(1)),
  ),
  outDir: flag(
    {
      name: "out-dir",
      kind: "string",
      value: "DIR",
      help: "Write authorization-config.yaml and podlogreader-authorizer.kubeconfig (mode 0600) here instead of printing both.",
    },
    v.optional(v.pipe(v.string(), v.minLength(1))),
  ),
  help: helpFlag,
};

const SUMMARY =
  "Prints the AuthorizationConfiguration for kube-apiserver's --authorization-config (Node, RBAC, then podlogreader's webhook with " +
  "failurePolicy NoOpinion, no decision cache, a 3s timeout, and match conditions that send it only get/list/watch of pods and get " +
  "of pods/log), and the kubeconfig the webhook entry names. The webhook only ever allows or has no opinion: it adds to what RBAC " +
  "grants, and takes nothing away.";

export type AuthorizerConfigOptions = ValuesOf<typeof AUTHORIZER_CONFIG_FLAGS>;

export function parseAuthorizerConfig(argv: string[]): AuthorizerConfigOptions | HelpRequest {
  // --help first: the other flags are required, and help must not need them.
  if (argv.includes("--help") || argv.includes("-h")) return { help: true };
  return parseFlagSet(AUTHORIZER_CONFIG_FLAGS, argv).values;
}

/** Prints both files, or writes them to --out-dir; throws when a file cannot be read or written. */
export function writeAuthorizerConfig(values: AuthorizerConfigOptions, out: { write(s: string): unknown } = process.stdout): void {
  const read = (f: string) => readFileSync(f, "utf8");
  const kubeconfig = webhookKubeconfig(
    values.serverUrl,
    read(values.caFile),
    {
      certPem: read(values.clientCert),
      keyPem: read(values.clientKey),
    },
    values.tlsServerName,
  );
  const config = authorizationConfig(values.kubeconfigPath);
  if (values.outDir) {
    mkdirSync(values.outDir, { recursive: true });
    writeFileSync(join(values.outDir, "authorization-config.yaml"), config);
    const kc = join(values.outDir, "podlogreader-authorizer.kubeconfig");
    writeFileSync(kc, kubeconfig, { mode: 0o600 });
    chmodSync(kc, 0o600);
    out.write(
      `Wrote ${join(values.outDir, "authorization-config.yaml")} and ${kc}; copy the kubeconfig to ${values.kubeconfigPath} on the ` +
        `apiserver's host.\n`,
    );
  } else {
    out.write(
      `# authorization-config.yaml (kube-apiserver --authorization-config=FILE)\n${config}---\n# ${values.kubeconfigPath}\n${kubeconfig}`,
    );
  }
}

export const authorizerConfigCommand = defineCommand({
  name: "authorizer-config",
  args: "...",
  does: "the apiserver's AuthorizationConfiguration for the webhook authorizer",
  usage:
    "authorizer-config --server-url https://HOST:PORT --ca-file CA --client-cert CERT --client-key KEY [--tls-server-name NAME] " +
    "[--out-dir DIR]",
  summary: SUMMARY,
  flags: AUTHORIZER_CONFIG_FLAGS,
  parse: parseAuthorizerConfig,
  async execute(values, program) {
    try {
      writeAuthorizerConfig(values);
      return 0;
    } catch (err) {
      process.stderr.write(`${program} authorizer-config: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  },
});

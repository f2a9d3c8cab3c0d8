// Exec credential plugins (client.authentication.k8s.io), run the way client-go runs them.
//
// client-node's ExecAuth is not used: its cache cannot be dropped after a 401, it sets no
// KUBERNETES_EXEC_INFO (plugins that need the cluster or the interactive flag fail), it does not
// check the returned apiVersion, and it swallows the plugin's stderr, where plugins prompt people.
import type { ExecConfig, KubeconfigCluster } from "./kubeconfig.ts";
import { messageOf } from "../util/errors.ts";

export interface ExecCredentialStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  expirationTimestamp?: string;
}

export class ExecCredentialError extends Error {
  override name = "ExecCredentialError";
}

const API_VERSIONS = new Set(["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]);
const INTERACTIVE_MODES = new Set(["Never", "IfAvailable", "Always"]);
/** The cluster extension whose content a plugin receives as spec.cluster.config. */
const EXEC_EXTENSION = "client.authentication.k8s.io/exec";

export interface ExecPlugin {
  /** The credential to use now: the cached one until it expires or is invalidated, else a new one. */
  credential(): Promise<ExecCredentialStatus>;
  /** Forgets the cached credential (the apiserver answered 401), so the next call runs the plugin. */
  invalidate(): void;
}

export interface ExecContext {
  /** `users[<name>].user.exec` in <file>, for messages. */
  where: string;
  cluster: KubeconfigCluster;
  /** The cluster's CA bundle, PEM, passed to plugins that ask for cluster info. */
  caPem?: string;
  env?: Record<string, string | undefined>;
  /** Whether stdin is a terminal the plugin may prompt on. */
  stdinIsTerminal?: boolean;
}

/** Checks the exec stanza as clientcmd validates it; throws ExecCredentialError naming the field. */
export function validateExecConfig(exec: ExecConfig, where: string): void {
  if (!exec.command) throw new ExecCredentialError(`${where}.command is missing`);
  if (!exec.apiVersion) throw new ExecCredentialError(`${where}.apiVersion is missing`);
  if (!API_VERSIONS.has(exec.apiVersion)) {
    throw new ExecCredentialError(`${where}.apiVersion "${exec.apiVersion}" is not supported; use one of ${[...API_VERSIONS].join(", ")}`);
  }
  if (exec.apiVersion.endsWith("/v1") && !exec.interactiveMode) {
    throw new ExecCredentialError(`${where}.interactiveMode is required for ${exec.apiVersion}`);
  }
  if (exec.interactiveMode && !INTERACTIVE_MODES.has(exec.interactiveMode)) {
    throw new ExecCredentialError(`${where}.interactiveMode "${exec.interactiveMode}" is not one of ${[...INTERACTIVE_MODES].join(", ")}`);
  }
  if (exec.args !== undefined && (!Array.isArray(exec.args) || exec.args.some((a) => typeof a !== "string"))) {
    throw new ExecCredentialError(`${where}.args must be a list of strings`);
  }
  if (
    exec.env !== undefined &&
    (!Array.isArray(exec.env) || exec.env.some((e) => typeof e?.name !== "string" || typeof e?.value !== "string"))
  ) {
    throw new ExecCredentialError(`${where}.env must be a list of {name, value}`);
  }
}

/**
 * A plugin whose credential is cached until its expirationTimestamp (forever without one) or
 * until invalidate(); concurrent callers share one run of the plugin.
 */
export function execPlugin(exec: ExecConfig, context: ExecContext): ExecPlugin {
  validateExecConfig(exec, context.where);
  let cached: { status: ExecCredentialStatus; expiresAt: number } | undefined;
  let running: Promise<ExecCredentialStatus> | undefined;
  return {
    async credential() {
      if (cached && Date.now() < cached.expiresAt) return cached.status;
      running ??= runPlugin(exec, context)
        .then((status) => {
          const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Infinity;
          cached = { status, expiresAt };
          return status;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

async function runPlugin(exec: ExecConfig, context: ExecContext): Promise<ExecCredentialStatus> {
  const apiVersion = exec.apiVersion!;
  const mode = exec.interactiveMode ?? "IfAvailable";
  const interactive = mode !== "Never" && context.stdinIsTerminal === true;
  if (mode === "Always" && !interactive) {
    throw new ExecCredentialError(`${context.where}: interactiveMode is Always but stdin is not a terminal`);
  }
  const env: Record<string, string | undefined> = { ...(context.env ?? process.env) };
  for (const { name, value } of exec.env ?? []) env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion,
    kind: "ExecCredential",
    spec: { interactive, ...(exec.provideClusterInfo ? { cluster: clusterInfo(context) } : {}) },
  });
  const command = exec.command!;
  let child: Bun.Subprocess<"inherit" | "ignore", "pipe", "inherit">;
  try {
    child = Bun.spawn([command, ...(exec.args ?? [])], {
      env,
      stdin: interactive ? "inherit" : "ignore",
      stdout: "pipe",
      // Plugins print prompts and their own errors here, for the person at the terminal.
      stderr: "inherit",
    });
  } catch (err) {
    const hint = exec.installHint ? `\n${exec.installHint}` : "";
    throw new ExecCredentialError(`${context.where}: cannot run ${command}: ${messageOf(err)}${hint}`, { cause: err });
  }
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0) throw new ExecCredentialError(`${context.where}: ${command} exited with code ${code}`);
  return parseExecCredential(stdout, apiVersion, `${context.where}: ${command}`);
}

/** Validates a plugin's output as client-go does and returns its status. */
export function parseExecCredential(stdout: string, apiVersion: string, who: string): ExecCredentialStatus {
  let doc: { apiVersion?: unknown; kind?: unknown; status?: ExecCredentialStatus };
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    throw new ExecCredentialError(`${who} did not print an ExecCredential as JSON: ${messageOf(err)}`, { cause: err });
  }
  if (doc?.kind !== "ExecCredential") throw new ExecCredentialError(`${who} printed kind ${String(doc?.kind)}, not ExecCredential`);
  if (doc.apiVersion !== apiVersion) {
    throw new ExecCredentialError(`${who} printed apiVersion ${String(doc.apiVersion)}, but the kubeconfig asks for ${apiVersion}`);
  }
  const status = doc.status;
  if (!status || typeof status !== "object") throw new ExecCredentialError(`${who} printed an ExecCredential without status`);
  const hasCert = Boolean(status.clientCertificateData);
  if (hasCert !== Boolean(status.clientKeyData)) {
    throw new ExecCredentialError(`${who} must print both status.clientCertificateData and status.clientKeyData, or neither`);
  }
  if (!status.token && !hasCert) throw new ExecCredentialError(`${who} printed neither status.token nor a client certificate`);
  if (status.expirationTimestamp !== undefined && Number.isNaN(Date.parse(status.expirationTimestamp))) {
    throw new ExecCredentialError(`${who} printed status.expirationTimestamp "${status.expirationTimestamp}", not an RFC 3339 time`);
  }
  return status;
}

/** spec.cluster of KUBERNETES_EXEC_INFO (client.authentication.k8s.io Cluster). */
function clusterInfo(context: ExecContext): Record<string, unknown> {
  const c = context.cluster;
  const info: Record<string, unknown> = { server: c.server };
  if (c["tls-server-name"]) info["tls-server-name"] = c["tls-server-name"];
  if (context.caPem) info["certificate-authority-data"] = Buffer.from(context.caPem).toString("base64");
  if (c["proxy-url"]) info["proxy-url"] = c["proxy-url"];
  if (c["disable-compression"]) info["disable-compression"] = true;
  const extension = c.extensions?.find((e) => e?.name === EXEC_EXTENSION);
  if (extension) info.config = extension.extension;
  return info;
}

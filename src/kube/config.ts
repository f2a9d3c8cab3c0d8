import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { ExecCredentialError, execPlugin, type ExecPlugin } from "./exec-credential.ts";
import {
  KubeconfigError,
  readKubeconfigs,
  type Entry,
  type Kubeconfig,
  type KubeconfigCluster,
  type KubeconfigUser,
} from "./kubeconfig.ts";
import { messageOf } from "../util/errors.ts";

/** Where the credentials of a connection come from, and how to read them. */
export interface Connection {
  /** The apiserver's base URL (always https), without a trailing slash. */
  server: string;
  /** PEM bundle that the server's certificate must chain to; undefined means the system roots. */
  ca?: string;
  /** Client certificate and key, PEM. */
  cert?: string;
  key?: string;
  /** The name the server's certificate is verified against (and sent as SNI), if not the server's host. */
  serverName?: string;
  /** An http:// or https:// proxy that requests are tunnelled through with CONNECT. */
  proxy?: string;
  /** Headers sent with every request: impersonation, Accept-Encoding. */
  headers?: [string, string][];
  /** The Authorization header value for the next request, if any. Called per request. */
  authorization(): Promise<string | undefined>;
  /**
   * When set, called once per request instead of authorization(): a credential that may also
   * carry a client certificate (exec plugins). The connection's own `cert`/`key` win over it.
   */
  credentials?(): Promise<Credentials>;
  /** Forget any cached credential, e.g. after a 401, so the next call reads it afresh. */
  invalidate(): void;
  /** The namespace of the kubeconfig's context, or of the in-cluster ServiceAccount. */
  namespace?: string;
  /** Where the configuration came from, for messages. */
  source: string;
}

export interface Credentials {
  authorization?: string;
  cert?: string;
  key?: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Projected ServiceAccount tokens rotate; re-read the file at least this often (as client-go does). */
const TOKEN_FILE_MAX_AGE_MS = 60_000;

export interface LoadOptions {
  /** --kubeconfig; wins over everything else. */
  kubeconfig?: string;
  /** --context: the kubeconfig context to use instead of current-context. */
  context?: string;
  env?: Record<string, string | undefined>;
  /** Directory of the in-cluster ServiceAccount files; overridable for tests. */
  inClusterDir?: string;
  /** Whether exec plugins may prompt on stdin; defaults to whether stdin is a terminal. */
  stdinIsTerminal?: boolean;
}

/**
 * Loads the connection the way kubectl does: --kubeconfig, then $KUBECONFIG (several files,
 * merged), then in-cluster config, then ~/.kube/config. TLS material is resolved here because
 * Bun's fetch ignores client-node's own TLS handling.
 */
export function loadConnection(options: LoadOptions = {}): Connection {
  const env = options.env ?? process.env;
  const inClusterDir = options.inClusterDir ?? IN_CLUSTER_DIR;
  let files: string[];
  let source: string;
  if (options.kubeconfig) {
    files = [options.kubeconfig];
    source = options.kubeconfig;
  } else if (env.KUBECONFIG) {
    // As kubectl: empty entries and files that do not exist are skipped; a file listed twice counts once.
    const listed = [...new Set(env.KUBECONFIG.split(delimiter).filter((f) => f !== ""))];
    files = listed.filter((f) => existsSync(f));
    source = `KUBECONFIG=${env.KUBECONFIG}`;
    if (files.length === 0) throw new ConfigError(`${source}: none of these files exists`);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(inClusterDir, "token"))) {
    if (options.context) {
      throw new ConfigError(
        `context "${options.context}" was asked for, but no kubeconfig was found (running with the in-cluster ServiceAccount)`,
      );
    }
    return inClusterConnection(env, inClusterDir);
  } else if (existsSync(join(homedir(), ".kube", "config"))) {
    files = [join(homedir(), ".kube", "config")];
    source = files[0]!;
  } else {
    throw new ConfigError("no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run inside a cluster");
  }
  let kubeconfig: Kubeconfig;
  try {
    kubeconfig = readKubeconfigs(files);
  } catch (err) {
    if (err instanceof KubeconfigError) throw new ConfigError(err.message);
    throw new ConfigError(`cannot read kubeconfig ${source}: ${messageOf(err)}`, { cause: err });
  }
  return kubeconfigConnection(kubeconfig, source, {
    context: options.context,
    env,
    stdinIsTerminal: options.stdinIsTerminal ?? process.stdin.isTTY === true,
  });
}

export interface ContextOptions {
  context?: string;
  env?: Record<string, string | undefined>;
  stdinIsTerminal?: boolean;
}

/**
 * The connection of one context of a (merged) kubeconfig. Every authentication and connection
 * field kubectl honours is honoured here, or refused with an error that names it.
 */
export function kubeconfigConnection(kc: Kubeconfig, source: string, options: ContextOptions = {}): Connection {
  const contextName = options.context ?? kc.currentContext;
  if (!contextName) {
    throw new ConfigError(`${source}: current-context is not set; pass --context or set current-context`);
  }
  const context = kc.contexts.get(contextName);
  if (!context) throw new ConfigError(`${source}: context "${contextName}" does not exist`);
  const clusterName = context.value.cluster;
  const cluster = clusterName ? kc.clusters.get(clusterName) : undefined;
  if (!cluster) {
    throw new ConfigError(
      `${context.file}: context "${contextName}" names ${clusterName ? `cluster "${clusterName}", which does not exist` : "no cluster"}`,
    );
  }
  const userName = context.value.user;
  const user = userName ? kc.users.get(userName) : undefined;
  if (userName && !user) throw new ConfigError(`${context.file}: context "${contextName}" names user "${userName}", which does not exist`);

  const tls = clusterTls(cluster);
  const ca = tls.ca;
  const { cert, key } = user ? clientCertificate(user) : {};
  const auth = user
    ? userAuthorization(user, { cluster: cluster.value, caPem: ca, env: options.env, stdinIsTerminal: options.stdinIsTerminal })
    : noAuthorization;
  return {
    ...tls,
    cert,
    key,
    headers: [
      ...(user ? impersonationHeaders(user) : []),
      // disable-compression: client-go then stops asking for gzip.
      ...(cluster.value["disable-compression"] ? [["Accept-Encoding", "identity"] satisfies [string, string]] : []),
    ],
    ...auth,
    namespace: context.value.namespace || undefined,
    source,
  };
}

function clusterTls(entry: Entry<KubeconfigCluster>): Pick<Connection, "server" | "ca" | "serverName" | "proxy"> {
  const c = entry.value;
  const at = (field: string) => `${entry.file}: clusters["${entry.name}"].cluster.${field}`;
  if (c["insecure-skip-tls-verify"]) {
    throw new ConfigError(
      `${at("insecure-skip-tls-verify")} is set; podlogreader never turns TLS verification off. ` +
        "Give the cluster's CA (certificate-authority or certificate-authority-data) instead",
    );
  }
  if (!c.server) throw new ConfigError(`${at("server")} is missing`);
  const server = serverUrl(c.server, at("server"));
  return {
    server,
    ca: readPem(c["certificate-authority-data"], c["certificate-authority"], at("certificate-authority")),
    serverName: c["tls-server-name"] || undefined,
    proxy: c["proxy-url"] ? proxyUrl(c["proxy-url"], at("proxy-url")) : undefined,
  };
}

/** The server URL, which must be https: a bearer token or password must never cross the network in clear text. */
export function serverUrl(server: string, where: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ConfigError(`${where} "${server}" is not a URL; write it as https://host:port`);
  }
  if (url.protocol !== "https:") {
    throw new ConfigError(
      `${where} "${server}" is not https; podlogreader sends credentials only over verified TLS. Use the apiserver's https:// address`,
    );
  }
  return server.replace(/\/+$/, "");
}

function proxyUrl(proxy: string, where: string): string {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new ConfigError(`${where} "${proxy}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`${where} "${proxy}": only http:// and https:// proxies are supported, not ${url.protocol.replace(/:$/, "")}`);
  }
  return proxy;
}

function clientCertificate(entry: Entry<KubeconfigUser>): { cert?: string; key?: string } {
  const u = entry.value;
  const at = (field: string) => `${entry.file}: users["${entry.name}"].user.${field}`;
  const cert = readPem(u["client-certificate-data"], u["client-certificate"], at("client-certificate"));
  const key = readPem(u["client-key-data"], u["client-key"], at("client-key"));
  if (cert && !key) throw new ConfigError(`${at("client-certificate")} is set without client-key`);
  if (key && !cert) throw new ConfigError(`${at("client-key")} is set without client-certificate`);
  return { cert, key };
}

function impersonationHeaders(entry: Entry<KubeconfigUser>): [string, string][] {
  const u = entry.value;
  const at = (field: string) => `${entry.file}: users["${entry.name}"].user.${field}`;
  const groups = u["as-groups"] ?? [];
  const extra = Object.entries(u["as-user-extra"] ?? {});
  if ((u["as-uid"] || groups.length > 0 || extra.length > 0) && !u.as) {
    throw new ConfigError(`${at("as")} is required with as-uid, as-groups or as-user-extra`);
  }
  // The apiserver reads each value from its own header line, and Bun's fetch joins repeated
  // headers into one line with commas, which would name a single group "a, b".
  if (groups.length > 1)
    throw new ConfigError(`${at("as-groups")} lists ${groups.length} groups; podlogreader can impersonate one group only`);
  const multiValued = extra.find(([, values]) => (values ?? []).length > 1);
  if (multiValued)
    throw new ConfigError(`${at("as-user-extra")}["${multiValued[0]}"] has several values; podlogreader can send one value per key only`);
  const headers: [string, string][] = [];
  if (u.as) headers.push(["Impersonate-User", u.as]);
  if (u["as-uid"]) headers.push(["Impersonate-Uid", u["as-uid"]]);
  for (const group of groups) headers.push(["Impersonate-Group", group]);
  for (const [k, values] of extra) {
    for (const v of values ?? []) headers.push([`Impersonate-Extra-${escapeHeaderKey(k)}`, v]);
  }
  return headers;
}

/** Extra keys may hold characters a header name cannot; client-go percent-encodes them. */
function escapeHeaderKey(key: string): string {
  return [...new TextEncoder().encode(key)]
    .map((b) =>
      /[A-Za-z0-9!#$&'*+.^_`|~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
    )
    .join("");
}

function inClusterConnection(env: Record<string, string | undefined>, dir: string): Connection {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const namespaceFile = join(dir, "namespace");
  return {
    server,
    ca: readPem(undefined, join(dir, "ca.crt"), "in-cluster CA"),
    ...tokenFileAuthorization(join(dir, "token")),
    namespace: existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : undefined,
    source: "in-cluster ServiceAccount",
  };
}

/** `-data` and the file form of one field together are an error for kubectl too. */
function readPem(data: string | undefined, file: string | undefined, what: string): string | undefined {
  if (data && file) throw new ConfigError(`${what} is set both as a file and as -data; keep one`);
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${messageOf(err)}`, { cause: err });
  }
}

type Authorization = Pick<Connection, "authorization" | "invalidate" | "credentials">;

const noAuthorization: Authorization = { authorization: async () => undefined, invalidate() {} };

function userAuthorization(
  entry: Entry<KubeconfigUser>,
  execContext: { cluster: KubeconfigCluster; caPem?: string; env?: Record<string, string | undefined>; stdinIsTerminal?: boolean },
): Authorization {
  const u = entry.value;
  const at = (field: string) => `${entry.file}: users["${entry.name}"].user.${field}`;
  if (u["auth-provider"]) {
    throw new ConfigError(
      `${at("auth-provider")} (${u["auth-provider"].name ?? "unnamed"}) is not supported; ` +
        "use an exec credential plugin instead (kubectl has replaced the gcp and azure providers with exec plugins too)",
    );
  }
  const methods = [
    ...(u.token || u.tokenFile ? ["token/tokenFile"] : []),
    ...(u.username || u.password ? ["username/password"] : []),
    ...(u.exec ? ["exec"] : []),
  ];
  if (methods.length > 1) {
    throw new ConfigError(`${entry.file}: users["${entry.name}"] sets more than one way to authenticate (${methods.join(", ")}); keep one`);
  }
  if (u.exec) return execAuthorization(u.exec, at("exec"), execContext);
  // As client-go: a readable tokenFile wins over token, and is re-read as it rotates.
  if (u.tokenFile) return tokenFileAuthorization(u.tokenFile, at("tokenFile"));
  if (u.token) return { authorization: async () => `Bearer ${u.token}`, invalidate() {} };
  if (u.username || u.password) {
    if (!u.username || !u.password) throw new ConfigError(`${at(u.username ? "password" : "username")} is missing`);
    const basic = `Basic ${Buffer.from(`${u.username}:${u.password}`).toString("base64")}`;
    return { authorization: async () => basic, invalidate() {} };
  }
  return noAuthorization;
}

function execAuthorization(
  exec: NonNullable<KubeconfigUser["exec"]>,
  where: string,
  context: { cluster: KubeconfigCluster; caPem?: string; env?: Record<string, string | undefined>; stdinIsTerminal?: boolean },
): Authorization {
  let plugin: ExecPlugin;
  try {
    plugin = execPlugin(exec, { where, ...context });
  } catch (err) {
    if (err instanceof ExecCredentialError) throw new ConfigError(err.message);
    throw err;
  }
  const credentials = async (): Promise<Credentials> => {
    const { token, clientCertificateData, clientKeyData } = await plugin.credential();
    return { authorization: token ? `Bearer ${token}` : undefined, cert: clientCertificateData, key: clientKeyData };
  };
  return {
    credentials,
    authorization: async () => (await credentials()).authorization,
    invalidate: () => plugin.invalidate(),
  };
}

/** A bearer token read from a file that the kubelet rotates; re-read once it is a minute old. */
export function tokenFileAuthorization(path: string, what = "the token file"): Authorization {
  let token: string | undefined;
  let readAt = 0;
  return {
    async authorization() {
      if (token === undefined || Date.now() - readAt > TOKEN_FILE_MAX_AGE_MS) {
        try {
          token = readFileSync(path, "utf8").trim();
        } catch (err) {
          throw new ConfigError(`${what}: cannot read ${path}: ${messageOf(err)}`, { cause: err });
        }
        if (token === "") throw new ConfigError(`${what}: ${path} is empty`);
        readAt = Date.now();
      }
      return `Bearer ${token}`;
    },
    invalidate() {
      token = undefined;
    },
  };
}

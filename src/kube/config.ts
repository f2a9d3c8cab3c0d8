import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig, type User } from "@kubernetes/client-node";

/** Where the credentials of a connection come from, and how to read them. */
export interface Connection {
  /** The apiserver's base URL, without a trailing slash. */
  server: string;
  /** PEM bundle that the server's certificate must chain to; undefined means the system roots. */
  ca?: string;
  /** Client certificate and key, PEM. */
  cert?: string;
  key?: string;
  /** The Authorization header value for the next request, if any. Called per request. */
  authorization(): Promise<string | undefined>;
  /** Forget any cached credential, e.g. after a 401, so the next call reads it afresh. */
  invalidate(): void;
  /** The namespace of the kubeconfig's current context, or of the in-cluster ServiceAccount. */
  namespace?: string;
  /** Where the configuration came from, for messages. */
  source: string;
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
  /** --context; the kubeconfig context to use instead of its current-context. */
  context?: string;
  env?: Record<string, string | undefined>;
  /** Directory of the in-cluster ServiceAccount files; overridable for tests. */
  inClusterDir?: string;
}

/**
 * Loads the connection the way kubectl does: --kubeconfig, then $KUBECONFIG, then in-cluster
 * config, then ~/.kube/config. TLS material is resolved here because Bun's fetch ignores
 * client-node's own TLS handling.
 */
export function loadConnection(options: LoadOptions = {}): Connection {
  const env = options.env ?? process.env;
  const inClusterDir = options.inClusterDir ?? IN_CLUSTER_DIR;
  const kc = new KubeConfig();
  let source: string;
  try {
    if (options.kubeconfig) {
      source = options.kubeconfig;
      kc.loadFromFile(options.kubeconfig);
    } else if (env.KUBECONFIG) {
      source = `KUBECONFIG=${env.KUBECONFIG}`;
      kc.loadFromDefault();
    } else if (env.KUBERNETES_SERVICE_HOST && options.context === undefined && existsSync(join(inClusterDir, "token"))) {
      return inClusterConnection(env, inClusterDir);
    } else if (existsSync(join(homedir(), ".kube", "config"))) {
      source = join(homedir(), ".kube", "config");
      kc.loadFromFile(source);
    } else {
      throw new ConfigError(
        "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run inside a cluster",
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read kubeconfig ${describeSource(options, env)}: ${(err as Error).message}`);
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) throw new ConfigError(`${source}: context "${options.context}" does not exist`);
    kc.setCurrentContext(options.context);
  }
  return kubeconfigConnection(kc, source);
}

function describeSource(options: LoadOptions, env: Record<string, string | undefined>): string {
  return options.kubeconfig ?? env.KUBECONFIG ?? "~/.kube/config";
}

export function kubeconfigConnection(kc: KubeConfig, source: string): Connection {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster) throw new ConfigError(`${source}: the current context "${kc.getCurrentContext()}" names no cluster`);
  if (cluster.skipTLSVerify) {
    throw new ConfigError(
      `${source}: cluster "${cluster.name}" sets insecure-skip-tls-verify; podlogreader never turns TLS verification off. ` +
        "Give the cluster's CA (certificate-authority or certificate-authority-data) instead",
    );
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  return {
    server: cluster.server.replace(/\/+$/, ""),
    ca: readPem(cluster.caData, cluster.caFile, `${source}: certificate-authority`),
    cert: readPem(user?.certData, user?.certFile, `${source}: client-certificate`),
    key: readPem(user?.keyData, user?.keyFile, `${source}: client-key`),
    ...authorizationFor(kc, user),
    namespace: context?.namespace,
    source,
  };
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

function readPem(data: string | undefined, file: string | undefined, what: string): string | undefined {
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

type Authorization = Pick<Connection, "authorization" | "invalidate">;

function authorizationFor(kc: KubeConfig, user: User | null): Authorization {
  if (!user) return { authorization: async () => undefined, invalidate() {} };
  if (user.authProvider?.name === "tokenFile" && typeof user.authProvider.config?.tokenFile === "string") {
    return tokenFileAuthorization(user.authProvider.config.tokenFile);
  }
  if (user.exec || user.authProvider) {
    // Exec plugins and auth providers: client-node runs and caches them; only the header is used.
    return {
      async authorization() {
        const opts: { headers?: Record<string, string> } = {};
        await kc.applyToHTTPSOptions(opts);
        return opts.headers?.Authorization;
      },
      invalidate() {},
    };
  }
  if (user.token) return { authorization: async () => `Bearer ${user.token}`, invalidate() {} };
  if (user.username && user.password) {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`;
    return { authorization: async () => basic, invalidate() {} };
  }
  return { authorization: async () => undefined, invalidate() {} };
}

/** A bearer token read from a file that the kubelet rotates; re-read once it is a minute old. */
export function tokenFileAuthorization(path: string): Authorization {
  let token: string | undefined;
  let readAt = 0;
  return {
    async authorization() {
      if (token === undefined || Date.now() - readAt > TOKEN_FILE_MAX_AGE_MS) {
        try {
          token = readFileSync(path, "utf8").trim();
        } catch (err) {
          throw new ConfigError(`cannot read the token file ${path}: ${(err as Error).message}`);
        }
        readAt = Date.now();
      }
      return `Bearer ${token}`;
    },
    invalidate() {
      token = undefined;
    },
  };
}

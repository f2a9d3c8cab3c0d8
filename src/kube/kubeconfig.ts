// Reading kubeconfig files and merging several of them the way kubectl (client-go's clientcmd) does.
//
// client-node's KubeConfig is not used for this: it drops `tokenFile` (it reads `token-file`, once),
// `as-groups`, `as-uid`, `as-user-extra`, `disable-compression` and exec's `interactiveMode`; it does
// not resolve `tokenFile` or a relative exec command against the file; and its merge of $KUBECONFIG
// throws on a name two files share and takes current-context from the last file, not the first.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
// js-yaml itself, the parser client-node's loadYaml wraps: importing client-node at run time loads
// its whole generated API, about 7 MiB of resident memory for one function.
import { load as loadYaml } from "js-yaml";
import { messageOf } from "../util/errors.ts";

/** A cluster entry, with the kubeconfig's own field names (clientcmd/api/v1 Cluster). */
export interface KubeconfigCluster {
  server?: string;
  "tls-server-name"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "proxy-url"?: string;
  "disable-compression"?: boolean;
  extensions?: { name: string; extension: unknown }[];
}

/** An exec credential plugin (clientcmd/api/v1 ExecConfig). */
export interface ExecConfig {
  command?: string;
  args?: string[];
  env?: { name: string; value: string }[];
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo?: boolean;
  interactiveMode?: string;
}

/** A user entry (clientcmd/api/v1 AuthInfo). */
export interface KubeconfigUser {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  as?: string;
  "as-uid"?: string;
  "as-groups"?: string[];
  "as-user-extra"?: Record<string, string[]>;
  username?: string;
  password?: string;
  "auth-provider"?: { name?: string; config?: Record<string, string> };
  exec?: ExecConfig;
  extensions?: unknown;
}

export interface KubeconfigContext {
  cluster?: string;
  user?: string;
  namespace?: string;
  extensions?: unknown;
}

/** One or more kubeconfig files merged; each entry remembers the file it came from, for messages. */
export interface Kubeconfig {
  clusters: Map<string, Entry<KubeconfigCluster>>;
  users: Map<string, Entry<KubeconfigUser>>;
  contexts: Map<string, Entry<KubeconfigContext>>;
  currentContext?: string;
  /** The files read, in order of precedence. */
  files: string[];
}

export interface Entry<T> {
  name: string;
  value: T;
  file: string;
}

export class KubeconfigError extends Error {
  override name = "KubeconfigError";
}

/**
 * Reads the files and merges them as kubectl merges $KUBECONFIG: for each cluster, user and
 * context name the first file that defines it wins, and current-context comes from the first file
 * that sets it. Relative paths are resolved against the directory of the file they appear in.
 */
export function readKubeconfigs(files: string[]): Kubeconfig {
  const merged: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map(), files };
  for (const file of files) {
    const one = parseKubeconfig(readFileSync(file, "utf8"), file);
    merged.currentContext ||= one.currentContext;
    for (const kind of ["clusters", "users", "contexts"] as const) {
      for (const [name, entry] of one[kind]) {
        if (!merged[kind].has(name)) (merged[kind] as Map<string, unknown>).set(name, entry);
      }
    }
  }
  return merged;
}

export function parseKubeconfig(text: string, file: string): Kubeconfig {
  let doc: unknown;
  try {
    // An empty file is an empty kubeconfig, as for kubectl.
    doc = text.trim() === "" ? {} : loadYaml(text);
  } catch (err) {
    throw new KubeconfigError(`${file}: not valid YAML: ${messageOf(err)}`, { cause: err });
  }
  if (doc === undefined || doc === null) doc = {};
  if (!isObject(doc)) throw new KubeconfigError(`${file}: not a kubeconfig (expected a YAML mapping)`);
  const dir = dirname(file);
  const clusters = namedList<KubeconfigCluster>(doc, "clusters", "cluster", file);
  const users = namedList<KubeconfigUser>(doc, "users", "user", file);
  const contexts = namedList<KubeconfigContext>(doc, "contexts", "context", file);
  for (const { value } of clusters.values()) {
    value["certificate-authority"] = resolvePath(dir, value["certificate-authority"]);
  }
  for (const { value } of users.values()) {
    value["client-certificate"] = resolvePath(dir, value["client-certificate"]);
    value["client-key"] = resolvePath(dir, value["client-key"]);
    value.tokenFile = resolvePath(dir, value.tokenFile);
    // A bare command name is looked up on PATH; one with a separator is relative to the file.
    if (value.exec?.command?.includes("/")) value.exec.command = resolvePath(dir, value.exec.command);
  }
  const current = doc["current-context"];
  return {
    clusters,
    users,
    contexts,
    currentContext: typeof current === "string" && current !== "" ? current : undefined,
    files: [file],
  };
}

function namedList<T>(doc: Record<string, unknown>, key: string, field: string, file: string): Map<string, Entry<T>> {
  const list = doc[key] ?? [];
  if (!Array.isArray(list)) throw new KubeconfigError(`${file}: ${key} must be a list`);
  const out = new Map<string, Entry<T>>();
  list.forEach((item: unknown, i) => {
    if (!isObject(item) || typeof item.name !== "string" || item.name === "") {
      throw new KubeconfigError(`${file}: ${key}[${i}].name is missing`);
    }
    const value = item[field] ?? {};
    if (!isObject(value)) throw new KubeconfigError(`${file}: ${key}[${i}].${field} must be a mapping`);
    if (out.has(item.name)) throw new KubeconfigError(`${file}: ${key}: duplicate name "${item.name}"`);
    out.set(item.name, { name: item.name, value: structuredClone(value) as T, file });
  });
  return out;
}

function resolvePath(dir: string, path: string | undefined): string | undefined {
  if (!path) return path;
  return isAbsolute(path) ? path : join(dir, path);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

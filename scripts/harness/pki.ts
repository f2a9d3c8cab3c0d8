// Certificates with openssl, for the local cluster, the chaos runner's webhook and the tests: a
// self-signed CA (or any self-signed certificate), and a leaf certificate signed by a CA. Every
// file is written in one folder and named after the certificate (<name>.key, <name>.crt, and the
// .csr, .ext and .srl that make it).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** RSA 2048 or ECDSA P-256. */
export type KeyType = "rsa" | "ec";

export interface Pem {
  cert: string;
  key: string;
}

export interface SelfSignedOptions {
  /** The distinguished name, e.g. "/CN=podlogreader-local-ca". */
  subject: string;
  days: number;
  /** RSA unless told. */
  keyType?: KeyType;
}

export interface LeafOptions {
  /** The distinguished name, e.g. "/O=system:masters/CN=podlogreader-admin". */
  subject: string;
  /** The signing CA: the path of its files without the ending (`<ca>.crt`, `<ca>.key`), relative to the folder or absolute. */
  ca: string;
  days: number;
  extendedKeyUsage: "serverAuth" | "clientAuth";
  /** The subjectAltName, e.g. "IP:127.0.0.1,DNS:localhost"; none unless told. */
  subjectAltName?: string;
  /**
   * The keyUsage extension; false for none. Unless told: "critical,digitalSignature,keyEncipherment"
   * for an RSA key, "critical,digitalSignature" for an EC key.
   */
  keyUsage?: string | false;
  /** RSA unless told. */
  keyType?: KeyType;
}

/** Runs openssl in `cwd`; throws with its stderr when it fails. */
export function openssl(cwd: string, ...args: string[]): void {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.error) throw new Error(`openssl is needed to make certificates: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
}

const NEW_KEY: Record<KeyType, string[]> = {
  rsa: ["-newkey", "rsa:2048", "-nodes"],
  ec: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
};

const LEAF_KEY_USAGE: Record<KeyType, string> = {
  rsa: "critical,digitalSignature,keyEncipherment",
  ec: "critical,digitalSignature",
};

function readPem(dir: string, name: string): Pem {
  return { cert: readFileSync(join(dir, `${name}.crt`), "utf8"), key: readFileSync(join(dir, `${name}.key`), "utf8") };
}

/** A self-signed certificate in `dir`, `<name>.crt` and `<name>.key`, with these extensions (as openssl's -addext takes them). */
export function selfSigned(dir: string, name: string, options: SelfSignedOptions, extensions: string[] = []): Pem {
  const newKey = NEW_KEY[options.keyType ?? "rsa"];
  const files = ["-keyout", `${name}.key`, "-out", `${name}.crt`];
  const addext = extensions.flatMap((e) => ["-addext", e]);
  openssl(dir, "req", "-x509", ...newKey, ...files, "-days", String(options.days), "-subj", options.subject, ...addext);
  return readPem(dir, name);
}

/** A self-signed CA in `dir`: `<name>.crt` and `<name>.key`. */
export function makeCa(dir: string, name: string, options: SelfSignedOptions): Pem {
  return selfSigned(dir, name, options, ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]);
}

/**
 * A certificate signed by `options.ca`, with a new key, in `dir`: `<name>.crt` and `<name>.key`. Its
 * serial is random, kept in `<name>.srl` beside it, so nothing is written next to the CA.
 */
export function signLeaf(dir: string, name: string, options: LeafOptions): Pem {
  const keyType = options.keyType ?? "rsa";
  const keyUsage = options.keyUsage ?? LEAF_KEY_USAGE[keyType];
  const ext = [
    options.subjectAltName && `subjectAltName=${options.subjectAltName}`,
    keyUsage !== false && `keyUsage=${keyUsage}`,
    `extendedKeyUsage=${options.extendedKeyUsage}`,
  ].filter(Boolean);
  writeFileSync(join(dir, `${name}.ext`), `${ext.join("\n")}\n`);
  const newKey = NEW_KEY[keyType];
  openssl(dir, "req", "-new", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", options.subject);
  const signer = ["-CA", `${options.ca}.crt`, "-CAkey", `${options.ca}.key`, "-CAserial", `${name}.srl`, "-CAcreateserial"];
  const out = ["-out", `${name}.crt`, "-days", String(options.days), "-extfile", `${name}.ext`];
  openssl(dir, "x509", "-req", "-in", `${name}.csr`, ...signer, ...out);
  return readPem(dir, name);
}

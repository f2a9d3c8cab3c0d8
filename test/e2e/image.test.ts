// The OCI image that `make image` builds, read as a registry or a runtime reads it: the layout's
// index, manifest and config, the layer's files, the SBOM it carries, and a rebuild from the
// same inputs. (test/e2e/reduced-env.test.ts runs its entrypoint against a cluster.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { IMAGE_ENV } from "../../scripts/image/env.ts";

const top = resolve(import.meta.dir, "../..");
const out = join(top, "dist/image");
const layout = join(out, "oci");
const binary = join(top, "dist/bin/linux-x64-baseline/podlogreader");

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
interface ImageConfig {
  architecture: string;
  os: string;
  config: { User?: string; Entrypoint?: string[]; Env?: string[]; Labels?: Record<string, string> };
  rootfs: { diff_ids: string[] };
}
interface Spdx {
  spdxVersion: string;
  creationInfo: { comment?: string };
  packages: {
    SPDXID: string;
    name: string;
    versionInfo: string;
    comment?: string;
    checksums?: { algorithm: string; checksumValue: string }[];
    externalRefs?: { referenceLocator: string }[];
  }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
}

/** The package lines of debs.lock or debs.resolved, split into their columns. */
const lockLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(" "));
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const blob = (digest: string) => readFileSync(join(layout, "blobs", ...digest.split(":")));
const json = <T>(digest: string): T => JSON.parse(blob(digest).toString("utf8")) as T;

function run(cmd: string[], env: Record<string, string> = {}): Buffer {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout;
}
const sh = (cmd: string[], env: Record<string, string> = {}) => run(cmd, env).toString("utf8");
/** A file of the image's (single) layer. */
const fromLayer = (path: string) => run(["tar", "-xzOf", join(layout, "blobs", ...manifest.layers[0]!.digest.split(":")), path]);

let manifestDescriptor: Descriptor;
let manifest: { config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> };
let config: ImageConfig;
/** Path -> tar listing line ("mode owner/group size ... path") of the single layer. */
let listing: Map<string, string>;

beforeAll(() => {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
  expect(index.manifests).toHaveLength(1);
  manifestDescriptor = index.manifests[0]!;
  manifest = json(manifestDescriptor.digest);
  config = json(manifest.config.digest);
  const layer = join(layout, "blobs", ...manifest.layers[0]!.digest.split(":"));
  listing = new Map(
    sh(["tar", "-tvzf", layer, "--numeric-owner", "--full-time"])
      .trim()
      .split("\n")
      .map((l) => [
        l
          .split(/\s+/)
          .slice(5)
          .join(" ")
          .replace(/ -> .*$/, "")
          .replace(/^\.?\//, "")
          .replace(/\/$/, ""),
        l,
      ]),
  );
});

describe("the image", () => {
  test("every blob is what its digest says, and the digest printed is the manifest's", () => {
    for (const d of [manifestDescriptor, manifest.config, ...manifest.layers]) {
      expect(`sha256:${sha256(blob(d.digest))}`).toBe(d.digest);
      expect(blob(d.digest).length).toBe(d.size);
    }
    expect(readFileSync(join(out, "digest"), "utf8").trim()).toBe(manifestDescriptor.digest);
    expect(manifestDescriptor.annotations?.["org.opencontainers.image.ref.name"]).toBe(pkg.version);
  });

  test("runs /podlogreader as nonroot 65532 on linux/amd64", () => {
    expect(config).toMatchObject({ os: "linux", architecture: "amd64", config: { User: "65532:65532", Entrypoint: ["/podlogreader"] } });
  });

  test("turns Bun's collection timer and JavaScriptCore's top compiler tier off: the environment the benchmark measures", () => {
    expect(config.config.Env).toContain("BUN_GC_TIMER_DISABLE=1");
    expect(config.config.Env).toContain("BUN_JSC_useFTLJIT=0");
    for (const [name, value] of Object.entries(IMAGE_ENV)) expect(config.config.Env).toContain(`${name}=${value}`);
  });

  test("carries the OCI labels: source, revision, version, licenses", () => {
    const revision = sh(["git", "-C", top, "rev-parse", "HEAD"]).trim();
    const expected = {
      "org.opencontainers.image.revision": revision,
      "org.opencontainers.image.version": pkg.version,
      "org.opencontainers.image.licenses": pkg.license,
    };
    expect(config.config.Labels).toMatchObject(expected);
    expect(config.config.Labels?.["org.opencontainers.image.source"]).toMatch(/^(https?|git|ssh):|@/);
    expect(manifest.annotations).toMatchObject(expected);
  });

  test("holds the tested binary, the glibc it links and a nonroot user, nothing of a shell", () => {
    expect(manifest.layers).toHaveLength(1);
    expect(sha256(fromLayer("podlogreader"))).toBe(sha256(readFileSync(binary)));
    for (const path of [
      "lib64/ld-linux-x86-64.so.2",
      "lib/x86_64-linux-gnu/libc.so.6",
      "lib/x86_64-linux-gnu/libm.so.6",
      "etc/ssl/certs/ca-certificates.crt",
      "usr/share/zoneinfo/Etc/UTC",
      "etc/passwd",
      "usr/share/podlogreader/sbom.spdx.json",
    ]) {
      expect(listing.has(path)).toBe(true);
    }
    for (const path of ["bin/sh", "usr/bin/dpkg", "usr/bin/apt", "bin/bash", "usr/bin/ldd"]) expect(listing.has(path)).toBe(false);
    expect(listing.get("home/nonroot")).toMatch(/^drwx------ 65532\/65532 /);
    expect(listing.get("podlogreader")).toMatch(/^-rwxr-xr-x 0\/0 /);
  });

  test("the SBOM lists every Debian package with the version that went in, the binary, and the npm production dependencies", async () => {
    const sbom = (await Bun.file(join(out, "sbom.spdx.json")).json()) as Spdx;
    expect(sbom.spdxVersion).toBe("SPDX-2.3");
    const byName = new Map(sbom.packages.map((p) => [p.name, p]));
    const locked = lockLines(readFileSync(join(top, "scripts/image/debs.lock"), "utf8"));
    const resolved = lockLines(readFileSync(join(out, "debs.resolved"), "utf8"));
    expect(locked.length).toBeGreaterThan(5);
    expect(resolved.map(([name, , arch, , lockedVersion]) => [name, lockedVersion, arch])).toEqual(
      locked.map(([name, version, arch]) => [name, version, arch]),
    );
    for (const [name, version, , debSha, lockedVersion] of resolved) {
      expect(byName.get(name!)?.versionInfo).toBe(version!);
      expect(byName.get(name!)?.checksums?.[0]?.checksumValue).toBe(debSha!);
      // A version apt no longer offered is said so in the SBOM (README, "The image").
      if (version === lockedVersion) expect(byName.get(name!)?.comment).toBeUndefined();
      else expect(byName.get(name!)?.comment).toContain(`pins ${lockedVersion}`);
      expect(listing.has(`var/lib/dpkg/status.d/${name}`)).toBe(true);
    }
    const app = sbom.packages.find((p) => p.SPDXID === "SPDXRef-podlogreader")!;
    expect(app.checksums?.[0]?.checksumValue).toBe(sha256(readFileSync(binary)));
    const lock = (await Bun.file(join(top, "package-lock.json")).json()) as {
      packages: Record<string, { version: string; dev?: boolean; devOptional?: boolean }>;
    };
    const production = Object.entries(lock.packages).filter(([path, e]) => path && !e.dev && !e.devOptional);
    expect(production.length).toBeGreaterThan(0);
    for (const [path, e] of production) {
      const name = path.slice(path.lastIndexOf("node_modules/") + 13);
      expect(sbom.packages.some((p) => p.name === name && p.versionInfo === e.version)).toBe(true);
    }
    for (const dev of ["typescript", "fast-check"]) expect(byName.has(dev)).toBe(false);
    // The copy inside the image is the same document.
    expect(JSON.parse(fromLayer("usr/share/podlogreader/sbom.spdx.json").toString("utf8"))).toEqual(sbom);
  });

  test("the OCI archive holds the same layout", () => {
    const entries = sh(["tar", "-tf", join(out, `podlogreader-${pkg.version}.oci.tar`)])
      .trim()
      .split("\n");
    expect(entries).toContain("./oci-layout");
    expect(entries).toContain("./index.json");
    for (const d of [manifestDescriptor, manifest.config, ...manifest.layers])
      expect(entries).toContain(`./blobs/sha256/${d.digest.slice(7)}`);
  });

  test("a rebuild from the same inputs gives the same digest", () => {
    const dir = mkdtempSync(join(tmpdir(), "podlogreader-image-"));
    try {
      const revision = config.config.Labels!["org.opencontainers.image.revision"]!;
      const source = config.config.Labels!["org.opencontainers.image.source"]!;
      const epoch = String(Math.floor(Date.parse(config.config.Labels!["org.opencontainers.image.created"]!) / 1000));
      sh([join(top, "scripts/image/build.sh"), binary, dir], {
        VERSION: pkg.version,
        REVISION: revision,
        SOURCE_URL: source,
        SOURCE_DATE_EPOCH: epoch,
        BUN: process.execPath,
      });
      expect(readFileSync(join(dir, "digest"), "utf8").trim()).toBe(manifestDescriptor.digest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe("a lock naming a version apt no longer offers (the mirror moved to a new point release)", () => {
  const REFRESH = "Refresh the lock: apt-get update && scripts/image/lock-debs.sh > scripts/image/debs.lock";
  let dir: string;
  let lock: string;
  let netbase: string[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "podlogreader-image-drift-"));
    // What the image above was built from, so that netbase is the only package to move.
    const offered = lockLines(readFileSync(join(out, "debs.resolved"), "utf8"));
    netbase = offered.find(([name]) => name === "netbase")!;
    lock = join(dir, "debs.lock");
    const lines = offered.map(([name, version, arch, sha]) =>
      name === "netbase" ? `netbase 0.1~gone ${arch} ${"0".repeat(64)}` : `${name} ${version} ${arch} ${sha}`,
    );
    writeFileSync(lock, `${lines.join("\n")}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = (mode: "drift" | "strict") =>
    spawnSync(join(top, "scripts/image/build.sh"), [binary, join(dir, mode)], {
      env: {
        ...process.env,
        VERSION: pkg.version,
        REVISION: "drift-test",
        SOURCE_URL: "https://example.com/podlogreader",
        SOURCE_DATE_EPOCH: "0",
        BUN: process.execPath,
        IMAGE_DEBS_LOCK: lock,
        IMAGE_LOCK: mode,
      },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });

  test("builds with the version apt offers, says so in one line, and records it next to the image and in the SBOM", async () => {
    const r = build("drift");
    expect(r.stderr).toContain(
      `fetch-debs: netbase 0.1~gone (all) is no longer offered by apt, which offers ${netbase[1]}; using ${netbase[1]}. ${REFRESH}`,
    );
    expect(r.status).toBe(0);
    const resolved = lockLines(readFileSync(join(dir, "drift", "debs.resolved"), "utf8"));
    expect(resolved.find(([name]) => name === "netbase")).toEqual(["netbase", netbase[1]!, "all", netbase[3]!, "0.1~gone"]);
    const sbom = (await Bun.file(join(dir, "drift", "sbom.spdx.json")).json()) as Spdx;
    const entry = sbom.packages.find((p) => p.name === "netbase")!;
    expect(entry.versionInfo).toBe(netbase[1]!);
    expect(entry.checksums?.[0]?.checksumValue).toBe(netbase[3]!);
    expect(entry.comment).toBe(
      `scripts/image/debs.lock pins 0.1~gone, which apt no longer offered; this build used ${netbase[1]}, with the sha256 of apt's ` +
        `signed index`,
    );
    expect(resolved.filter(([, version, , , locked]) => version !== locked).map(([name]) => name)).toEqual(["netbase"]);
    expect(sbom.creationInfo.comment).toBe("Debian packages not at their locked version: netbase");
    expect(sbom.packages.filter((p) => p.comment !== undefined).map((p) => p.name)).toEqual(["netbase"]);
  }, 180_000);

  test("IMAGE_LOCK=strict fails with the same line and builds nothing", () => {
    const r = build("strict");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      `fetch-debs: netbase 0.1~gone (all) is no longer offered by apt, which offers ${netbase[1]}; IMAGE_LOCK=strict refuses it. ` +
        `${REFRESH}`,
    );
    expect(existsSync(join(dir, "strict", "digest"))).toBe(false);
    expect(existsSync(join(dir, "strict", "oci"))).toBe(false);
  }, 180_000);
});

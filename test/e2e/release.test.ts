// The release archives of `make release`, as a user or krew downloads them: checksums, the krew
// manifest, what each archive holds, the architecture each binary is built for (read from its
// ELF, Mach-O or PE header), and the Linux binaries run: x64 natively, arm64 under qemu-user,
// against the local cluster. macOS, Windows and musl builds are only cross-compiled here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadYaml } from "@kubernetes/client-node";
import pkg from "../../package.json" with { type: "json" };
import { testCluster, useNamespace } from "../support/cluster.ts";
import { createDeployment } from "../support/workloads.ts";

const release = resolve(import.meta.dir, "../../dist/release");
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";

interface Expected {
  format: "elf" | "mach-o" | "pe";
  machine: "x86-64" | "aarch64";
  /** The ELF program interpreter; none for Mach-O and PE. */
  interpreter: string | undefined;
  /** The platform its krew manifest entry selects; none when krew is not offered it. */
  krew: { os: string; arch: string } | undefined;
}

/** What each archive must hold, by the end of its file name (after podlogreader_<version>_). */
const ARCHIVE_ROWS: [string, Expected["format"], Expected["machine"], string | undefined, Expected["krew"]][] = [
  ["linux_amd64.tar.gz", "elf", "x86-64", "/lib64/ld-linux-x86-64.so.2", { os: "linux", arch: "amd64" }],
  ["linux_amd64_musl.tar.gz", "elf", "x86-64", "/lib/ld-musl-x86_64.so.1", undefined],
  ["linux_arm64.tar.gz", "elf", "aarch64", "/lib/ld-linux-aarch64.so.1", { os: "linux", arch: "arm64" }],
  ["darwin_amd64.tar.gz", "mach-o", "x86-64", undefined, { os: "darwin", arch: "amd64" }],
  ["darwin_arm64.tar.gz", "mach-o", "aarch64", undefined, { os: "darwin", arch: "arm64" }],
  ["windows_amd64.zip", "pe", "x86-64", undefined, { os: "windows", arch: "amd64" }],
];
const ARCHIVES: Record<string, Expected> = Object.fromEntries(
  ARCHIVE_ROWS.map(([end, format, machine, interpreter, krew]) => [
    `podlogreader_${pkg.version}_${end}`,
    { format, machine, interpreter, krew },
  ]),
);

interface Header {
  format: "elf" | "mach-o" | "pe";
  machine: string;
  interpreter?: string;
}

const ELF_MACHINES: Record<number, string> = { 62: "x86-64", 183: "aarch64" };
const MACHO_CPUS: Record<number, string> = { 16777223: "x86-64", 16777228: "aarch64" };
const PE_MACHINES: Record<number, string> = { 34404: "x86-64", 43620: "aarch64" };

/** Reads the executable format and target machine from a binary's first bytes. */
function readHeader(b: Buffer): Header {
  if (b.readUInt32BE(0) === 0x7f454c46) {
    // ELF64, little-endian: e_machine at 18; program headers give PT_INTERP (type 3).
    if (b[4] !== 2 || b[5] !== 1) throw new Error("not a 64-bit little-endian ELF");
    const phoff = Number(b.readBigUInt64LE(32));
    const [phentsize, phnum] = [b.readUInt16LE(54), b.readUInt16LE(56)];
    let interpreter: string | undefined;
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * phentsize;
      if (b.readUInt32LE(ph) !== 3) continue;
      const [offset, size] = [Number(b.readBigUInt64LE(ph + 8)), Number(b.readBigUInt64LE(ph + 32))];
      interpreter = b
        .subarray(offset, offset + size)
        .toString("latin1")
        .replace(/\0+$/, "");
    }
    return { format: "elf", machine: ELF_MACHINES[b.readUInt16LE(18)] ?? `elf-${b.readUInt16LE(18)}`, interpreter };
  }
  if (b.readUInt32LE(0) === 0xfeedfacf) {
    // 64-bit Mach-O: cputype right after the magic.
    const cpu = b.readUInt32LE(4);
    return { format: "mach-o", machine: MACHO_CPUS[cpu] ?? `mach-o-${cpu}` };
  }
  if (b.toString("latin1", 0, 2) === "MZ") {
    // PE: e_lfanew at 0x3c points at "PE\0\0", then the COFF header's Machine.
    const pe = b.readUInt32LE(0x3c);
    if (b.toString("latin1", pe, pe + 4) !== "PE\0\0") throw new Error("MZ without a PE header");
    const machine = b.readUInt16LE(pe + 4);
    return { format: "pe", machine: PE_MACHINES[machine] ?? `pe-${machine}` };
  }
  throw new Error(`unknown executable format ${b.subarray(0, 4).toString("hex")}`);
}

function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...opts.env },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
let unpacked: string;

/** Unpacks an archive once; returns its directory. */
function unpack(archive: string): string {
  const dir = join(unpacked, archive.replace(/\.(tar\.gz|zip)$/, ""));
  if (existsSync(dir)) return dir;
  const r = archive.endsWith(".zip")
    ? run(["unzip", "-q", "-d", dir, join(release, archive)])
    : run(["sh", "-c", 'mkdir -p "$1" && tar -xzf "$2" -C "$1"', "sh", dir, join(release, archive)]);
  if (r.code !== 0) throw new Error(`unpacking ${archive} failed: ${r.stderr}`);
  return dir;
}

beforeAll(() => {
  unpacked = mkdtempSync(join(tmpdir(), "podlogreader-release-"));
});
afterAll(() => rmSync(unpacked, { recursive: true, force: true }));

describe("the release", () => {
  test("SHA256SUMS lists every archive with its sha256", () => {
    const sums = readFileSync(join(release, "SHA256SUMS"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+\*?/));
    expect(sums.map(([, name]) => name).sort()).toEqual(Object.keys(ARCHIVES).sort());
    for (const [sum, name] of sums) expect(sha256(join(release, name!))).toBe(sum!);
  });

  test("the krew manifest names one archive per os/arch with its sha256, and the binary inside it", () => {
    const manifest = loadYaml<{
      kind: string;
      metadata: { name: string };
      spec: {
        version: string;
        platforms: { selector: { matchLabels: { os: string; arch: string } }; uri: string; sha256: string; bin: string }[];
      };
    }>(readFileSync(join(release, "podlogreader.yaml"), "utf8"));
    expect(manifest).toMatchObject({ kind: "Plugin", metadata: { name: "podlogreader" }, spec: { version: `v${pkg.version}` } });
    const wanted = Object.entries(ARCHIVES).filter(([, e]) => e.krew);
    expect(manifest.spec.platforms).toHaveLength(wanted.length);
    for (const [archive, e] of wanted) {
      const platform = manifest.spec.platforms.find((p) => p.uri.endsWith(`/${archive}`))!;
      expect(platform.selector.matchLabels).toEqual(e.krew!);
      expect(platform.sha256).toBe(sha256(join(release, archive)));
      expect(platform.bin).toBe(e.format === "pe" ? "podlogreader.exe" : "podlogreader");
    }
  });

  test.each(Object.entries(ARCHIVES))("%s holds the binary, LICENSE and README.md, built for its OS and CPU", (archive, e: Expected) => {
    const dir = unpack(archive);
    const exe = e.format === "pe" ? "podlogreader.exe" : "podlogreader";
    expect(readdirSync(dir).sort()).toEqual(["LICENSE", "README.md", exe].sort());
    const header = readHeader(readFileSync(join(dir, exe)));
    expect(header).toEqual({ format: e.format, machine: e.machine, ...(e.format === "elf" ? { interpreter: e.interpreter } : {}) });
  });
});

describe("running the Linux binaries", () => {
  const linux = `podlogreader_${pkg.version}_linux_amd64`;
  const arm64 = `podlogreader_${pkg.version}_linux_arm64`;
  const qemu = () => {
    const path = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
    expect(path).not.toBeNull();
    expect(existsSync(join(ARM64_SYSROOT, "lib/ld-linux-aarch64.so.1"))).toBe(true);
    return [path!, "-L", ARM64_SYSROOT];
  };

  test.each([
    [linux, []],
    [arm64, ["qemu"]],
  ] as const)("%s prints its version", (name, how) => {
    const binary = join(unpack(`${name}.tar.gz`), "podlogreader");
    const r = run([...(how.length ? qemu() : []), binary, "--version"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(`podlogreader ${pkg.version}`);
  });

  test.each([
    [linux, []],
    [arm64, ["qemu"]],
  ] as const)(
    "%s reports status from the local cluster",
    async (name, how) => {
      const c = await testCluster();
      const ns = await useNamespace("release");
      await createDeployment(ns, "web", { replicas: 1 });
      const binary = join(unpack(`${name}.tar.gz`), "podlogreader");
      const r = run([...(how.length ? qemu() : []), binary, "status", "-n", ns, "-o", "json"], { env: { KUBECONFIG: c.kubeconfig } });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout) as { namespace: string; kind: string; name: string }[];
      expect(rows.map((row) => `${row.namespace} ${row.kind} ${row.name}`)).toEqual([`${ns} Deployment web`]);
    },
    180_000,
  );
});

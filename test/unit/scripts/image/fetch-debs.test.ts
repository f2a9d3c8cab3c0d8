// scripts/image/fetch-debs.sh against a Debian repository of its own: a folder with a Packages
// index that apt reads through APT_CONFIG, so each case can move, drop or tamper with a version
// the way a mirror moving to a new point release (or an attacker) would, without the network.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const script = resolve(import.meta.dir, "../../../../scripts/image/fetch-debs.sh");
const REFRESH = "apt-get update && scripts/image/lock-debs.sh > scripts/image/debs.lock";

let root: string;
let repo: string;
let aptConfig: string;

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const debFile = (name: string, version: string) => join(repo, `${name}_${version}_all.deb`);

function run(cmd: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env: { ...process.env, APT_CONFIG: aptConfig, ...env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Puts these versions in the repository, replacing what it served, and writes its index. */
function serve(packages: { name: string; version: string }[]): void {
  rmSync(repo, { recursive: true, force: true });
  mkdirSync(repo, { recursive: true });
  const index: string[] = [];
  for (const { name, version } of packages) {
    const src = join(root, "src", `${name}-${version}`);
    mkdirSync(join(src, "DEBIAN"), { recursive: true });
    writeFileSync(
      join(src, "DEBIAN/control"),
      `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Test <test@example.com>\nDescription: a test package\n`,
    );
    const deb = debFile(name, version);
    const built = spawnSync("dpkg-deb", ["--build", "--root-owner-group", src, deb], { encoding: "utf8" });
    if (built.status !== 0) throw new Error(built.stderr);
    index.push(
      `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Test <test@example.com>\nFilename: ` +
        `./${name}_${version}_all.deb\nSize: ${readFileSync(deb).length}\nSHA256: ${sha256(deb)}\nDescription: a test package\n`,
    );
  }
  writeFileSync(join(repo, "Packages"), index.join("\n"));
}

/** apt-get update: apt's lists now show what the repository serves. */
function update(): void {
  const r = run(["apt-get", "update", "-qq"]);
  if (r.code !== 0) throw new Error(r.stderr);
}

/** Runs fetch-debs.sh with this lock (`name version sha256` per package, all "all"). */
function fetch(lock: [string, string, string][], mode: "drift" | "strict" = "drift") {
  const lockFile = join(root, "debs.lock");
  writeFileSync(lockFile, `# a lock\n${lock.map(([n, v, s]) => `${n} ${v} all ${s}`).join("\n")}\n`);
  const resolved = join(root, "out", "debs.resolved");
  rmSync(resolved, { force: true });
  const r = run([script, join(root, "out", "debs"), resolved], { IMAGE_LOCK: mode, IMAGE_DEBS_LOCK: lockFile });
  const rows = existsSync(resolved)
    ? readFileSync(resolved, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(" "))
    : undefined;
  return { ...r, debs: r.stdout.split("\n").filter(Boolean), resolved: rows };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "podlogreader-debs-"));
  repo = join(root, "repo");
  for (const d of ["lists/partial", "cache/archives/partial", "parts"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "status"), "");
  writeFileSync(join(root, "sources.list"), `deb [trusted=yes] file:${repo} ./\n`);
  aptConfig = join(root, "apt.conf");
  writeFileSync(
    aptConfig,
    [
      `Dir::Etc::SourceList "${join(root, "sources.list")}";`,
      `Dir::Etc::SourceParts "${join(root, "parts")}";`,
      `Dir::State::Lists "${join(root, "lists")}";`,
      `Dir::State::status "${join(root, "status")}";`,
      `Dir::Cache "${join(root, "cache")}";`,
      `Debug::NoLocking "true";`,
    ].join("\n"),
  );
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("fetch-debs", () => {
  test("takes a locked version that apt offers as it is, and records it as locked", () => {
    serve([{ name: "plr-a", version: "1.0" }]);
    update();
    const sha = sha256(debFile("plr-a", "1.0"));
    const r = fetch([["plr-a", "1.0", sha]], "strict");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.debs.map((f) => sha256(f))).toEqual([sha]);
    expect(r.resolved).toEqual([["plr-a", "1.0", "all", sha, "1.0"]]);
  });

  test("when apt no longer offers the locked version, takes the one it offers, says so in one line and records both", () => {
    serve([{ name: "plr-a", version: "1.1" }]);
    update();
    const r = fetch([["plr-a", "1.0", "0".repeat(64)]]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(
      `fetch-debs: plr-a 1.0 (all) is no longer offered by apt, which offers 1.1; using 1.1. Refresh the lock: ${REFRESH}`,
    );
    const sha = sha256(debFile("plr-a", "1.1"));
    expect(r.debs.map((f) => sha256(f))).toEqual([sha]);
    expect(r.resolved).toEqual([["plr-a", "1.1", "all", sha, "1.0"]]);
  });

  test("IMAGE_LOCK=strict refuses that substitution with the same line, and fetches nothing", () => {
    serve([{ name: "plr-a", version: "1.1" }]);
    update();
    const r = fetch([["plr-a", "1.0", "0".repeat(64)]], "strict");
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `fetch-debs: plr-a 1.0 (all) is no longer offered by apt, which offers 1.1; IMAGE_LOCK=strict refuses it. Refresh the lock: ` +
        `${REFRESH}`,
    );
    expect(r.debs).toEqual([]);
    expect(r.resolved).toBeUndefined();
  });

  for (const mode of ["drift", "strict"] as const) {
    test(`${mode}: a lock whose sha256 differs from apt's index for the same version fails`, () => {
      serve([{ name: "plr-a", version: "1.0" }]);
      update();
      const r = fetch([["plr-a", "1.0", "0".repeat(64)]], mode);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `apt's index gives plr-a 1.0 (all) the sha256 ${sha256(debFile("plr-a", "1.0"))}, not the ${"0".repeat(64)}`,
      );
      expect(r.resolved).toBeUndefined();
    });

    test(`${mode}: a .deb that differs from apt's index fails`, () => {
      serve([{ name: "plr-a", version: "1.1" }]);
      update();
      const indexed = sha256(debFile("plr-a", "1.1"));
      appendFileSync(debFile("plr-a", "1.1"), "tampered");
      // Strict locks the version the index describes; drift gets to it by substitution.
      const r = fetch([["plr-a", mode === "strict" ? "1.1" : "1.0", indexed]], mode);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("could not download plr-a 1.1");
      expect(r.debs).toEqual([]);
      expect(r.resolved).toBeUndefined();
    });
  }

  test("a cached .deb that is not the expected file is discarded and fetched again", () => {
    serve([{ name: "plr-a", version: "1.0" }]);
    update();
    const sha = sha256(debFile("plr-a", "1.0"));
    const cached = join(root, "out", "debs", "plr-a_1.0_all.deb");
    mkdirSync(join(root, "out", "debs"), { recursive: true });
    writeFileSync(cached, "not the package");
    const r = fetch([["plr-a", "1.0", sha]]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`discarding the cached ${cached}`);
    expect(sha256(cached)).toBe(sha);
  });

  test("when apt's lists are older than the repository, it refreshes them once and then substitutes", () => {
    serve([{ name: "plr-a", version: "1.1" }]);
    update();
    const oldSha = sha256(debFile("plr-a", "1.1"));
    // The mirror moves on; the lists still name 1.1, whose file is gone.
    serve([{ name: "plr-a", version: "1.2" }]);
    const r = fetch([["plr-a", "1.1", oldSha]]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("refreshing apt's package lists");
    expect(r.stderr).toContain("plr-a 1.1 (all) is no longer offered by apt, which offers 1.2; using 1.2.");
    expect(r.resolved).toEqual([["plr-a", "1.2", "all", sha256(debFile("plr-a", "1.2")), "1.1"]]);
  });

  test("a package apt does not know at all fails, naming it", () => {
    serve([{ name: "plr-a", version: "1.0" }]);
    update();
    const r = fetch([
      ["plr-a", "1.0", sha256(debFile("plr-a", "1.0"))],
      ["plr-gone", "1.0", "0".repeat(64)],
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("apt offers no version of plr-gone (all)");
    expect(r.resolved).toBeUndefined();
  });

  test("an unknown IMAGE_LOCK is a usage error", () => {
    serve([]);
    const r = fetch([], "loose" as "drift");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("IMAGE_LOCK must be drift or strict");
  });
});

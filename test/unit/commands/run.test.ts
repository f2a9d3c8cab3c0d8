import { describe, expect, test } from "bun:test";
import { parseList } from "../../../src/commands/audit.ts";
import { parseKubeconfig } from "../../../src/commands/kubeconfig.ts";
import { programName } from "../../../src/commands/program.ts";
import { commandHelp, programHelp, splitCommand } from "../../../src/commands/registry.ts";
import { parseOptions, RUN_FLAGS } from "../../../src/commands/run.ts";
import { parseVersion } from "../../../src/commands/version.ts";
import { UsageError } from "../../../src/flags/parse.ts";
import { DurationError, parseGoDuration } from "../../../src/util/go-duration.ts";

describe("parseOptions", () => {
  test("defaults: all namespaces, own pod visibility, no ServiceAccount, 250ms batching window, 10m resync", () => {
    expect(parseOptions([])).toMatchObject({
      namespaces: [],
      podVisibility: "own",
      deprecations: [],
      createServiceAccountAndRoleBinding: false,
      debounceMs: 250,
      resyncMs: 600_000,
      workers: 4,
      logLevel: "info",
      logFormat: "text",
    });
  });

  test.each([
    [["--create-sa-and-rolebinding"], true],
    [["--create-sa-and-rolebinding=true"], true],
    [["--create-sa-and-rolebinding=false"], false],
  ])("%p sets createServiceAccountAndRoleBinding to %p", (argv, expected) => {
    expect(parseOptions(argv).createServiceAccountAndRoleBinding).toBe(expected);
  });

  test("--namespace repeats and splits on commas, without duplicates", () => {
    expect(parseOptions(["--namespace", "a", "--namespace=b,c", "--namespace", "a"]).namespaces).toEqual(["a", "b", "c"]);
  });

  test("values come as --flag value or --flag=value", () => {
    const o = parseOptions(["--debounce", "100ms", "--resync=1m", "--kubeconfig", "/k", "--log-format=json", "--pod-visibility=namespace"]);
    expect(o).toMatchObject({ debounceMs: 100, resyncMs: 60_000, kubeconfig: "/k", logFormat: "json", podVisibility: "namespace" });
  });

  test.each([
    [["--list-pods"], "namespace"],
    [["--list-pods=true"], "namespace"],
    [["--list-pods=false"], "own"],
  ])("the deprecated %p still works, as --pod-visibility=%s, and says it is deprecated", (argv, visibility) => {
    const o = parseOptions(argv);
    expect(o.podVisibility).toBe(visibility as "own" | "namespace");
    expect(o.deprecations).toEqual([
      `--list-pods is deprecated and will be removed in the next release; use --pod-visibility=${visibility}`,
    ]);
  });

  test("--list-pods that contradicts --pod-visibility is refused", () => {
    expect(() => parseOptions(["--list-pods=true", "--pod-visibility=own"])).toThrow("contradicts");
    expect(parseOptions(["--list-pods=false", "--pod-visibility=own"]).podVisibility).toBe("own");
  });

  test.each([
    [["--debounce", "soon"], 'invalid argument "soon" for "--debounce" flag: time: invalid duration "soon"'],
    [["--resync", "0"], "--resync must be at least 1s"],
    [["--workers", "0"], "--workers must be a whole number"],
    [["--log-level", "loud"], "--log-level must be debug, info, warn or error"],
    [["--log-format", "xml"], "--log-format must be text or json"],
    [["--pod-visibility", "all"], "--pod-visibility must be own or namespace"],
    [["--create-sa-and-rolebinding=yes"], "--create-sa-and-rolebinding must be true or false"],
    [["--namespace", "Not_Valid"], "--namespace must be a valid namespace name"],
    [["--nope"], "unknown flag --nope"],
    [["-x", "y"], "unknown flag -x"],
    [["stray"], "unexpected argument"],
    [["--kubeconfig"], "--kubeconfig needs a value"],
  ])("rejects %p with a message naming the flag", (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(UsageError);
    expect(() => parseOptions(argv)).toThrow(message);
  });
});

test("--help explains every flag", () => {
  const help = programHelp();
  for (const flag of Object.values(RUN_FLAGS)) expect(help).toContain(`--${flag.name}`);
});

describe("kubectl conventions", () => {
  test("-n is --namespace and -h is --help, as in kubectl", () => {
    expect(parseOptions(["-n", "a", "-n", "b"]).namespaces).toEqual(["a", "b"]);
    expect(parseOptions(["-h"]).help).toBe(true);
  });

  test("--context is passed on", () => {
    expect(parseOptions(["--context", "staging"]).context).toBe("staging");
  });

  test.each([
    ["1y", 'invalid argument "1y" for "--resync" flag: time: unknown unit "y" in duration "1y"'],
    ["10", 'invalid argument "10" for "--resync" flag: time: missing unit in duration "10"'],
    ["", 'invalid argument "" for "--resync" flag: time: invalid duration ""'],
  ])("a duration %p is refused in kubectl's words", (value, message) => {
    expect(() => parseOptions(["--resync", value])).toThrow(message);
  });

  test("Go durations parse as Go parses them", () => {
    expect(parseOptions(["--resync", "1h2m3.5s", "--debounce", "1500us"])).toMatchObject({ resyncMs: 3_723_500, debounceMs: 1.5 });
  });
});

describe("admin commands", () => {
  test("-o is --output FORMAT in every command", () => {
    expect(parseList(["-o", "json"])).toMatchObject({ output: "json" });
    expect(parseList(["-o", "json"])).toMatchObject({ output: "json" });
    expect(parseVersion(["-o", "json"])).toMatchObject({ output: "json" });
    expect(parseKubeconfig(["-n", "x", "deploy/web", "-o", "json"])).toMatchObject({ output: "json", kind: "Deployment", name: "web" });
  });

  test("kubeconfig writes a file with --output-file; -o FILE is a format error", () => {
    expect(parseKubeconfig(["-n", "x", "deploy/web", "--output-file", "web.kubeconfig"])).toMatchObject({
      outputFile: "web.kubeconfig",
      output: "yaml",
    });
    expect(() => parseKubeconfig(["-n", "x", "deploy/web", "-o", "web.kubeconfig"])).toThrow("--output must be yaml or json");
  });

  test("kubeconfig --duration speaks kubectl's words", () => {
    expect(() => parseKubeconfig(["-n", "x", "deploy/web", "--duration", "1y"])).toThrow(
      'invalid argument "1y" for "--duration" flag: time: unknown unit "y" in duration "1y"',
    );
    expect(parseKubeconfig(["deploy/web", "--duration", "90m"])).toMatchObject({ durationMs: 5_400_000 });
  });

  test.each(["kubeconfig", "audit", "status"] as const)("%s shares --kubeconfig, --context, -n and -h", (command) => {
    const args = ["--kubeconfig", "/k", "--context", "c", "-n", "ns", ...(command === "kubeconfig" ? ["deploy/web"] : [])];
    const parse = command === "kubeconfig" ? parseKubeconfig : parseList;
    expect(parse(args)).toMatchObject({ kubeconfig: "/k", context: "c", namespace: "ns" });
    expect(parse(["-h"])).toMatchObject({ help: true });
    expect(() => parse(["-n", "Not_Valid"])).toThrow("--namespace must be a valid namespace name");
    for (const flag of ["--kubeconfig", "--context", "--namespace", "--help"]) expect(commandHelp(command)).toContain(flag);
  });
});

describe("invocation", () => {
  test("global flags before the command move behind it; no command word means run", () => {
    expect(splitCommand(["--context", "c", "-n", "ns", "status", "-o", "json"])).toEqual({
      command: "status",
      args: ["-o", "json", "--context", "c", "-n", "ns"],
    });
    expect(splitCommand(["--kubeconfig=/k", "run", "--workers", "2"])).toEqual({
      command: "run",
      args: ["--workers", "2", "--kubeconfig=/k"],
    });
    expect(splitCommand(["-n", "ns", "--workers", "2"])).toEqual({ command: "run", args: ["-n", "ns", "--workers", "2"] });
    expect(splitCommand(["version"])).toEqual({ command: "version", args: [] });
  });

  test("as kubectl-podlogreader it calls itself 'kubectl podlogreader'", () => {
    expect(programName(["/usr/local/bin/kubectl-podlogreader"])).toBe("kubectl podlogreader");
    expect(programName(["C:\\bin\\kubectl-podlogreader.exe"].map((p) => p.replaceAll("\\", "/")))).toBe("kubectl podlogreader");
    expect(programName(["/usr/local/bin/podlogreader"])).toBe("podlogreader");
    expect(programHelp("kubectl podlogreader")).toContain("Usage: kubectl podlogreader [run] [flags]");
    expect(commandHelp("status", "kubectl podlogreader")).toStartWith("Usage: kubectl podlogreader status");
  });
});

describe("parseGoDuration reads what Go's time.ParseDuration reads", () => {
  test.each([
    ["0", 0],
    ["1.5h", 5_400_000],
    ["2h45m", 9_900_000],
    ["300ms", 300],
    ["-1m", -60_000],
    ["+2s", 2000],
    ["1us", 0.001],
    ["1µs", 0.001],
    [".5s", 500],
    ["1.s", 1000],
  ])("%p is %p ms", (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  test.each([
    ["", 'time: invalid duration ""'],
    ["-", 'time: invalid duration "-"'],
    [".s", 'time: invalid duration ".s"'],
    ["1", 'time: missing unit in duration "1"'],
    ["1d", 'time: unknown unit "d" in duration "1d"'],
    ["1h 2m", 'time: unknown unit "h " in duration "1h 2m"'],
    ["3000000h", 'time: invalid duration "3000000h"'],
  ])("%p is refused: %s", (text, message) => {
    expect(() => parseGoDuration(text)).toThrow(new DurationError(message));
  });
});

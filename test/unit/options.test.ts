import { describe, expect, test } from "bun:test";
import { FLAGS, helpText, parseOptions, UsageError } from "../../src/cli/options.ts";

describe("parseOptions", () => {
  test("defaults: all namespaces, list pods granted, no ServiceAccount, 1s debounce, 10m resync", () => {
    expect(parseOptions([])).toMatchObject({
      namespaces: [],
      listPods: true,
      createServiceAccountAndRoleBinding: false,
      debounceMs: 1000,
      resyncMs: 600_000,
      workers: 16,
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
    const o = parseOptions(["--debounce", "250ms", "--resync=1m", "--kubeconfig", "/k", "--log-format=json", "--list-pods=false"]);
    expect(o).toMatchObject({ debounceMs: 250, resyncMs: 60_000, kubeconfig: "/k", logFormat: "json", listPods: false });
  });

  test.each([
    [["--debounce", "soon"], "--debounce must be a duration"],
    [["--resync", "0"], "--resync must be at least 1s"],
    [["--workers", "0"], "--workers must be a whole number"],
    [["--log-level", "loud"], "--log-level must be debug, info, warn or error"],
    [["--log-format", "xml"], "--log-format must be text or json"],
    [["--create-sa-and-rolebinding=yes"], "--create-sa-and-rolebinding must be true or false"],
    [["--namespace", "Not_Valid"], "--namespace must be a valid namespace name"],
    [["--nope"], "unknown flag --nope"],
    [["-n", "x"], "unknown flag -n"],
    [["stray"], "unexpected argument"],
    [["--kubeconfig"], "--kubeconfig needs a value"],
  ])("rejects %p with a message naming the flag", (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(UsageError);
    expect(() => parseOptions(argv)).toThrow(message);
  });
});

test("--help explains every flag", () => {
  const help = helpText();
  for (const flag of FLAGS) expect(help).toContain(`--${flag.name}`);
});

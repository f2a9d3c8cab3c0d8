// The addresses the controller serves on: controller-runtime's two flags, and the deprecated
// --http-addr that serves everything on one address.
import { describe, expect, test } from "bun:test";
import { programHelp } from "../../../src/commands/registry.ts";
import { parseOptions } from "../../../src/commands/run.ts";
import { UsageError } from "../../../src/flags/parse.ts";

describe("--metrics-bind-address and --health-probe-bind-address", () => {
  test("default to :8080 and :8081 on every address, as in controller-runtime", () => {
    const o = parseOptions([]);
    expect(o.metricsBindAddress).toEqual({ host: "", port: 8080 });
    expect(o.healthProbeBindAddress).toEqual({ host: "", port: 8081 });
    expect(o.httpAddr).toBeUndefined();
  });

  test('"0" turns either off', () => {
    const o = parseOptions(["--metrics-bind-address=0", "--health-probe-bind-address", "0"]);
    expect(o.metricsBindAddress).toBeUndefined();
    expect(o.healthProbeBindAddress).toBeUndefined();
  });

  test.each([
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    [":0", { host: "", port: 0 }],
    ["localhost:9443", { host: "localhost", port: 9443 }],
    ["[::1]:8080", { host: "::1", port: 8080 }],
  ])("%p is a listen address", (value, expected) => {
    expect(parseOptions([`--metrics-bind-address=${value}`]).metricsBindAddress).toEqual(expected);
    expect(parseOptions([`--health-probe-bind-address=${value}`]).healthProbeBindAddress).toEqual(expected);
  });

  test.each([
    ["8080", "--metrics-bind-address must be HOST:PORT, :PORT or 0 (off), e.g. :8080"],
    ["localhost", "--metrics-bind-address must be HOST:PORT, :PORT or 0 (off), e.g. :8080"],
    [":70000", "--metrics-bind-address port must be at most 65535"],
    ["::1:8080", "--metrics-bind-address must be HOST:PORT, :PORT or 0 (off), e.g. :8080"],
  ])("a bad address %p is refused, naming the flag", (value, message) => {
    expect(() => parseOptions(["--metrics-bind-address", value])).toThrow(UsageError);
    expect(() => parseOptions(["--metrics-bind-address", value])).toThrow(message);
  });

  test("--help documents both, with their defaults and how to turn them off", () => {
    const help = programHelp().replace(/\s+/g, " ");
    expect(help).toMatch(/--metrics-bind-address ADDRESS Serve \/metrics [^-]*"0" turns it off\. \(default :8080\)/);
    expect(help).toMatch(/--health-probe-bind-address ADDRESS Serve \/healthz .*"0" turns it off\. \(default :8081\)/);
  });
});

describe("the deprecated --http-addr", () => {
  test("serves everything on its address and turns the two defaults off, with a deprecation", () => {
    const o = parseOptions(["--http-addr=:8080"]);
    expect(o.httpAddr).toEqual({ host: "", port: 8080 });
    expect(o.metricsBindAddress).toBeUndefined();
    expect(o.healthProbeBindAddress).toBeUndefined();
    expect(o.deprecations).toEqual([
      "--http-addr is deprecated and will be removed in a later release; use --metrics-bind-address and --health-probe-bind-address",
    ]);
  });

  test("an address given explicitly next to it is still served", () => {
    const o = parseOptions(["--http-addr=127.0.0.1:0", "--health-probe-bind-address=:9000"]);
    expect(o.metricsBindAddress).toBeUndefined();
    expect(o.healthProbeBindAddress).toEqual({ host: "", port: 9000 });
  });

  test("its help says it is deprecated; a bad value names it", () => {
    expect(programHelp()).toMatch(/--http-addr HOST:PORT\n\s+Deprecated/);
    expect(() => parseOptions(["--http-addr", "8080"])).toThrow("--http-addr must be HOST:PORT or :PORT");
  });
});

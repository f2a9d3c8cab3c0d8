import { describe, expect, test } from "bun:test";
import { managedName } from "../../src/access/names.ts";

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const long = (n: number, ch = "a") => ch.repeat(n);

describe("managedName", () => {
  test.each([
    ["web", "podlogreader-web"],
    ["api.v2", "podlogreader-api.v2"],
    [long(240), `podlogreader-${long(240)}`],
  ])("keeps podlogreader-<name> when it is a valid name: %s", (name, expected) => {
    expect(managedName(name)).toBe(expected);
  });

  test.each([241, 250, 253])("shortens a %i-character name to a valid 253-character name with a hash", (n) => {
    const name = managedName(long(n));
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(dns1123Subdomain);
    expect(name.startsWith("podlogreader-aaaa")).toBe(true);
    expect(name).toMatch(/-[0-9a-f]{10}$/);
  });

  test("is deterministic", () => {
    expect(managedName(long(253))).toBe(managedName(long(253)));
  });

  test("gives distinct long names that share a prefix distinct results", () => {
    const a = managedName(`${long(245)}-one`);
    const b = managedName(`${long(245)}-two`);
    expect(a).not.toBe(b);
  });

  test("never ends the kept part with '-' or '.' before the hash", () => {
    const name = managedName(`${long(238)}.-${long(20)}`.replace(".-", ".b-").slice(0, 253));
    expect(name).toMatch(dns1123Subdomain);
    const dotted = managedName(`${long(228)}.${long(30)}`.slice(0, 253));
    expect(dotted).toMatch(dns1123Subdomain);
  });
});

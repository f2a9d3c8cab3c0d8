// copyData copies plain data deeply: the copy equals the original and shares none of its objects
// or arrays, so keeping the copy keeps nothing of what it was copied from.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { copyData } from "../../../src/util/copy.ts";

function containers(value: unknown, into = new Set<object>()): Set<object> {
  if (value !== null && typeof value === "object") {
    into.add(value);
    for (const v of Object.values(value)) containers(v, into);
  }
  return into;
}

describe("copyData", () => {
  test("the copy equals the original, field for field, undefined fields included", () => {
    const data = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue(),
        fc.constant(undefined),
        fc.array(tie("value")),
        fc.dictionary(fc.string(), tie("value")),
      ),
    })).value;
    fc.assert(
      fc.property(data, (value) => {
        expect(copyData(value)).toStrictEqual(value);
      }),
    );
  });

  test("a key named __proto__ stays a key of the copy, as JSON.parse made it", () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const copy = copyData(parsed);
    expect(Object.keys(copy)).toEqual(["__proto__", "a"]);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  });

  test("anything but plain objects and arrays is refused, not copied into an empty object", () => {
    for (const value of [new Map([["a", 1]]), new Set([1]), new Date(0), { nested: [new Map()] }]) {
      expect(() => copyData(value)).toThrow(TypeError);
    }
  });

  test("the copy shares no object or array with the original", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const original = containers(value);
        for (const c of containers(copyData(value))) expect(original.has(c)).toBe(false);
      }),
    );
  });
});

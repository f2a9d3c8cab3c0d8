// The line limit that `make lint` enforces beside the formatter.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { longLines, MAX_LINE } from "../../../../scripts/build/line-length.ts";

const script = resolve(import.meta.dir, "../../../../scripts/build/line-length.ts");

test("a line of exactly the limit passes; one character more is reported with its file, line and length", () => {
  const text = ["short", "x".repeat(MAX_LINE), "y".repeat(MAX_LINE + 1)].join("\n");
  expect(longLines("a.ts", text)).toEqual([{ file: "a.ts", line: 3, length: MAX_LINE + 1 }]);
});

test("the command exits 1 naming each long line, and 0 when there is none", () => {
  const dir = mkdtempSync(join(tmpdir(), "line-length-"));
  writeFileSync(join(dir, "long.ts"), `const s = "${"z".repeat(MAX_LINE)}";\n`);
  writeFileSync(join(dir, "fine.ts"), "const s = 1;\n");
  const long = spawnSync(process.execPath, [script, join(dir, "long.ts"), join(dir, "fine.ts")], { encoding: "utf8" });
  expect(long.status).toBe(1);
  expect(long.stderr).toBe(`${join(dir, "long.ts")}:1: ${MAX_LINE + 13} characters, over ${MAX_LINE}: split the string or comment\n`);
  expect(spawnSync(process.execPath, [script, join(dir, "fine.ts")]).status).toBe(0);
});

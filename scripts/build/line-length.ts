// Fails when a line of the project's TypeScript is longer than the formatter's width: the
// formatter wraps code, but not a long string or comment, which must then be split by hand.
//   bun scripts/build/line-length.ts [FILE...]   (default: every .ts file git tracks)
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Biome's lineWidth in biome.json. */
export const MAX_LINE = 140;

export interface LongLine {
  file: string;
  line: number;
  length: number;
}

/** The lines of `text` longer than `max` characters, numbered from 1. */
export function longLines(file: string, text: string, max = MAX_LINE): LongLine[] {
  return text.split("\n").flatMap((l, i) => (l.length > max ? [{ file, line: i + 1, length: l.length }] : []));
}

if (import.meta.main) {
  const files =
    process.argv.length > 2
      ? process.argv.slice(2)
      : spawnSync("git", ["ls-files", "*.ts"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  const found = files.flatMap((f) => longLines(f, readFileSync(f, "utf8")));
  for (const l of found)
    process.stderr.write(`${l.file}:${l.line}: ${l.length} characters, over ${MAX_LINE}: split the string or comment\n`);
  process.exit(found.length > 0 ? 1 : 0);
}

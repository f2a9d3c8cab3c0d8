// A command's flags as one table: each entry carries its name, help and a valibot schema, so a
// single entry drives parsing, validation, the typed result and --help.
import * as v from "valibot";
import { flagHelp, parseFlags, UsageError, type Flag } from "./parse.ts";
import { DurationError, parseGoDuration } from "../util/go-duration.ts";

/** A flag and the schema that turns its raw value (string, string[] or undefined) into T. */
export interface TypedFlag<T> extends Flag {
  schema: v.GenericSchema<unknown, T>;
}

export type FlagSet = Record<string, TypedFlag<unknown>>;
export type ValuesOf<S extends FlagSet> = { [K in keyof S]: S[K] extends TypedFlag<infer T> ? T : never };

export function flag<T>(def: Flag, schema: v.GenericSchema<unknown, T>): TypedFlag<T> {
  return { ...def, schema };
}

/** pflag's wording for a value that does not parse: invalid argument "X" for "--name" flag: why. */
export function invalidArgument(flagName: string, value: string, why: string): string {
  return `invalid argument ${JSON.stringify(value)} for "--${flagName}" flag: ${why}`;
}

export function boolFlag(name: string, help: string, def?: "true" | "false"): TypedFlag<boolean> {
  return flag(
    { name, kind: "bool", help, ...(def === undefined ? {} : { default: def }) },
    v.pipe(
      v.string(),
      v.picklist(["true", "false"], `--${name} must be true or false`),
      v.transform((s) => s === "true"),
    ),
  );
}

/**
 * A Go-style duration in milliseconds. A value that does not parse is rejected in kubectl's words;
 * `check` returns the whole message for a duration that parses but is out of range.
 */
export function durationFlag(
  def: Omit<Flag, "kind" | "value">,
  check: (ms: number) => string | undefined = () => undefined,
): TypedFlag<number> {
  return flag(
    { ...def, kind: "string", value: "DURATION" },
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        let ms: number;
        try {
          ms = parseGoDuration(dataset.value);
        } catch (err) {
          if (!(err instanceof DurationError)) throw err;
          addIssue({ message: invalidArgument(def.name, dataset.value, err.message) });
          return NEVER;
        }
        const problem = ms < 0 ? `--${def.name} must not be negative` : check(ms);
        if (problem === undefined) return ms;
        addIssue({ message: problem });
        return NEVER;
      }),
    ),
  );
}

export interface ParsedCommandLine<S extends FlagSet> {
  values: ValuesOf<S>;
  positionals: string[];
}

/** Parses and validates argv against the set; throws UsageError naming the first bad flag. */
export function parseFlagSet<S extends FlagSet>(set: S, argv: string[], maxPositionals = 0): ParsedCommandLine<S> {
  const { values: raw, positionals } = parseFlags(Object.values(set), argv, maxPositionals);
  const values: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(set)) {
    const result = v.safeParse(f.schema, raw[f.name]);
    if (!result.success) throw new UsageError(result.issues[0].message);
    values[key] = result.output;
  }
  return { values: values as ValuesOf<S>, positionals };
}

export function flagSetHelp(set: FlagSet): string[] {
  return flagHelp(Object.values(set));
}

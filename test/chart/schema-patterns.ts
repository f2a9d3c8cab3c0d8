// The patterns of values.schema.json that are too long to read there, built from their parts.
// test/chart/schema.test.ts checks that the schema holds exactly these.

// Bun turns non-ASCII characters of a String.raw template into \u escapes, so the micro signs (U+00B5 and U+03BC) come from a plain string.
const UNITS = ["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"].join("|");
/** Go's time.ParseDuration syntax, as src/util/go-duration.ts reads it: a sign, then 0, or numbers with units. */
export const DURATION = `${String.raw`[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(` + UNITS}))+)`;

const caseless = (word: string) => [...word].map((c) => `[${c.toUpperCase()}${c}]`).join("");
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/**
 * One field of a cron schedule as the CronJob controller reads it (robfig/cron's standard
 * parser): a comma-separated list of `*`, `?`, a value or a range, each with an optional
 * positive `/step`; values in the field's range (leading zeros allowed), or names (any case).
 */
function field(values: string, names?: string[]): string {
  const value = `(0*(${values})${names ? `|${names.map(caseless).join("|")}` : ""})`;
  const element = String.raw`(\*|\?|${value}(-${value})?)(/0*[1-9][0-9]*)?`;
  return `${element}(,${element})*`;
}

const FIELDS = [
  field("[0-9]|[1-5][0-9]"), // minute 0-59
  field("[0-9]|1[0-9]|2[0-3]"), // hour 0-23
  field("[1-9]|[12][0-9]|3[01]"), // day of month 1-31
  field("[1-9]|1[0-2]", MONTHS), // month 1-12
  field("[0-6]", DAYS), // day of week 0-6
];

/** A CronJob schedule: a descriptor, `@every DURATION`, or five fields. */
export const SCHEDULE =
  "^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every " +
  DURATION +
  "|[ \\t]*" +
  FIELDS.map((f) => `(${f})`).join("[ \\t]+") +
  "[ \\t]*)$";

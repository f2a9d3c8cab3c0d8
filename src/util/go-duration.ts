// Durations as Go's time.ParseDuration reads them, with Go's error texts, so that a bad
// duration flag reads exactly as it does in kubectl.
const NANOS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
/** Go's limit: the largest int64 number of nanoseconds, about 292 years. */
const MAX_NANOS = 2 ** 63 - 1;

export class DurationError extends Error {
  override name = "DurationError";
}

const quote = (s: string) => JSON.stringify(s);

/** Parses "300ms", "-1.5h" or "2h45m" into milliseconds; throws DurationError with Go's message. */
export function parseGoDuration(text: string): number {
  const invalid = () => new DurationError(`time: invalid duration ${quote(text)}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();
  let nanos = 0;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    const [whole = "", fraction] = [number[1], number[2]];
    if (whole === "" && (fraction === undefined || fraction === "")) throw invalid();
    rest = rest.slice(number[0].length);
    const unit = /^[^.\d]*/.exec(rest)![0];
    if (unit === "") throw new DurationError(`time: missing unit in duration ${quote(text)}`);
    const scale = NANOS[unit];
    if (scale === undefined) throw new DurationError(`time: unknown unit ${quote(unit)} in duration ${quote(text)}`);
    rest = rest.slice(unit.length);
    nanos += Number(`${whole || "0"}.${fraction || "0"}`) * scale;
    if (nanos > MAX_NANOS) throw invalid();
  }
  return (sign * Math.round(nanos)) / 1e6;
}

// Logs go to stderr, as readable text or as one JSON object per line. A line about one object
// carries it as fields (kind, namespace, name, and a stable `reason`), so a log pipeline can
// filter on them; in text the fields follow the message as key=value pairs.
import { createConsola, LogLevels, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola";

export type LogFormat = "text" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes. */
  with(fields: LogFields): Logger;
}

/** Where lines go; stderr unless a test captures them. */
export type LogSink = (line: string) => void;

const toStderr: LogSink = (line) => void process.stderr.write(line);

/** Fields without the undefined ones, so an absent field is absent in JSON too. */
function defined(fields: LogFields): LogFields {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** key=value pairs, quoting a value that has spaces, quotes or '=' (logfmt). */
export function formatFields(fields: LogFields): string {
  return Object.entries(defined(fields))
    .map(([k, v]) => `${k}=${typeof v === "string" && (v === "" || /[\s"=]/.test(v)) ? JSON.stringify(v) : String(v)}`)
    .join(" ");
}

function jsonReporter(sink: LogSink): ConsolaReporter {
  return {
    log(entry: LogObject) {
      const [message, fields] = entry.args as [string, LogFields | undefined];
      const line = {
        time: entry.date.toISOString(),
        level: entry.type === "log" ? "info" : entry.type,
        msg: String(message),
        ...defined(fields ?? {}),
      };
      sink(`${JSON.stringify(line)}\n`);
    },
  };
}

class FieldLogger implements Logger {
  constructor(
    private readonly consola: ConsolaInstance,
    private readonly format: LogFormat,
    private readonly base: LogFields = {},
  ) {}

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    const all = fields ? { ...this.base, ...fields } : this.base;
    if (this.format === "json") {
      this.consola[level](message, all);
      return;
    }
    const pairs = formatFields(all);
    this.consola[level](pairs ? `${message}  ${pairs}` : message);
  }

  debug(message: string, fields?: LogFields): void {
    this.write("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write("error", message, fields);
  }
  with(fields: LogFields): Logger {
    return new FieldLogger(this.consola, this.format, { ...this.base, ...fields });
  }
}

/** Readable text (colours only on a terminal), or JSON lines with time, level, msg and the fields. */
export function createLogger(level: LogLevel, format: LogFormat, sink?: LogSink): Logger {
  const stream = sink
    ? ({
        write: (s: string) => {
          sink(s);
          return true;
        },
      } as unknown as NodeJS.WriteStream)
    : process.stderr;
  const consola = createConsola({
    level: LogLevels[level],
    stdout: stream,
    stderr: stream,
    formatOptions: { date: true, colors: !sink && (process.stderr.isTTY ?? false), compact: true },
  });
  if (format === "json") consola.setReporters([jsonReporter(sink ?? toStderr)]);
  return new FieldLogger(consola, format);
}

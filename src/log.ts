import { createConsola, LogLevels, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola";

export type Logger = ConsolaInstance;
export type LogFormat = "text" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";

/** One JSON object per line: time, level, tag and message, for log pipelines. */
const jsonReporter: ConsolaReporter = {
  log(entry: LogObject) {
    const [message, ...rest] = entry.args;
    const line: Record<string, unknown> = {
      time: entry.date.toISOString(),
      level: entry.type === "log" ? "info" : entry.type,
      msg: message instanceof Error ? message.message : String(message),
    };
    if (entry.tag) line.component = entry.tag;
    for (const extra of rest) {
      if (extra instanceof Error) line.error = extra.message;
      else if (extra && typeof extra === "object") Object.assign(line, extra);
    }
    process.stderr.write(`${JSON.stringify(line)}\n`);
  },
};

/** Logs go to stderr: readable text on a terminal (and plain text elsewhere), or JSON lines. */
export function createLogger(level: LogLevel, format: LogFormat): Logger {
  const logger = createConsola({
    level: LogLevels[level],
    stdout: process.stderr,
    stderr: process.stderr,
    formatOptions: { date: true, colors: process.stderr.isTTY ?? false, compact: true },
  });
  if (format === "json") logger.setReporters([jsonReporter]);
  return logger;
}

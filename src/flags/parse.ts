// A small flag parser driven by a table, shared by every command: --name value, --name=value,
// -x value (when the flag has a short form), booleans as --name or --name=true|false, and
// repeatable lists. Validation of the values is each command's valibot schema.
export class UsageError extends Error {
  override name = "UsageError";
}

export type FlagKind = "string" | "bool" | "list";

export interface Flag {
  name: string;
  short?: string;
  kind: FlagKind;
  value?: string;
  help: string;
  default?: string;
}

export interface ParsedFlags {
  values: Record<string, string | string[]>;
  positionals: string[];
}

export function parseFlags(flags: Flag[], argv: string[], maxPositionals = 0): ParsedFlags {
  const values: Record<string, string | string[]> = {};
  for (const f of flags) {
    if (f.kind === "list") values[f.name] = [];
    else if (f.default !== undefined) values[f.name] = f.default;
    else if (f.kind === "bool") values[f.name] = "false";
  }
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let flag: Flag | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      flag = flags.find((f) => f.name === name);
      if (!flag) throw new UsageError(`unknown flag --${name}`);
      if (eq >= 0) inline = arg.slice(eq + 1);
    } else if (arg.startsWith("-") && arg.length > 1) {
      flag = flags.find((f) => f.short && `-${f.short}` === arg);
      if (!flag) throw new UsageError(`unknown flag ${arg}`);
    } else {
      if (positionals.length >= maxPositionals) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
      positionals.push(arg);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (flag.kind === "bool") value = "true";
      else {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`--${flag.name} needs a value (${flag.value})`);
      }
    }
    if (flag.kind === "list") (values[flag.name] as string[]).push(value);
    else values[flag.name] = value;
  }
  return { values, positionals };
}

export function flagHelp(flags: Flag[]): string[] {
  const lines: string[] = [];
  for (const f of flags) {
    const names = `${f.short ? `-${f.short}, ` : ""}--${f.name}`;
    const head = `  ${names}${f.kind === "bool" ? (f.default !== undefined ? "[=true|false]" : "") : ` ${f.value}`}`;
    const def = f.default !== undefined ? ` (default ${f.default})` : "";
    lines.push(head, ...wrap(f.help + def, 72).map((l) => `      ${l}`));
  }
  return lines;
}

export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

// Flags and arguments that several commands share, defined once: kubeconfig, context, namespace,
// output, help, and a workload written KIND/NAME.
import * as v from "valibot";
import { parseWorkloadRef, WORKLOAD_REF_RULE } from "../access/workload-ref.ts";
import type { WorkloadKind } from "../access/kinds.ts";
import { isNamespaceName, isObjectName, NAMESPACE_RULE, OBJECT_NAME_RULE } from "../kube/names.ts";
import { boolFlag, flag, type TypedFlag } from "./flag-set.ts";
import { UsageError } from "./parse.ts";

export function namespaceSchema(flagName: string) {
  return v.pipe(v.string(), v.check(isNamespaceName, `--${flagName} must be ${NAMESPACE_RULE}`));
}

export function objectNameSchema(flagName: string) {
  return v.pipe(v.string(), v.check(isObjectName, `--${flagName} must be ${OBJECT_NAME_RULE}`));
}

/** -n/--namespace naming several namespaces: repeated, or separated with commas; duplicates go. */
export function namespacesFlag(help: string): TypedFlag<string[]> {
  return flag(
    { name: "namespace", short: "n", kind: "list", value: "NS", help },
    v.pipe(
      v.array(v.string()),
      v.transform((values) =>
        values
          .flatMap((s) => s.split(","))
          .map((s) => s.trim())
          .filter(Boolean),
      ),
      v.check((list) => list.every(isNamespaceName), `--namespace must be ${NAMESPACE_RULE}`),
      v.transform((list) => [...new Set(list)]),
    ),
  );
}

/** The KIND/NAME argument; undefined when not given. Throws UsageError when it is not one. */
export function workloadArg(text: string | undefined): { kind: WorkloadKind; name: string } | undefined {
  if (text === undefined) return undefined;
  const ref = parseWorkloadRef(text);
  if (!ref) throw new UsageError(`${JSON.stringify(text)} is not ${WORKLOAD_REF_RULE}`);
  return ref;
}

/** The KIND/NAME argument a command cannot do without. */
export function requiredWorkloadArg(text: string | undefined, command: string): { kind: WorkloadKind; name: string } {
  const ref = workloadArg(text);
  if (!ref) throw new UsageError(`${command} needs a workload, e.g. deploy/web`);
  return ref;
}

export const kubeconfigFlag = flag(
  {
    name: "kubeconfig",
    kind: "string",
    value: "PATH",
    help: "Kubeconfig file to use. Without it: $KUBECONFIG, then in-cluster config, then ~/.kube/config.",
  },
  v.optional(v.pipe(v.string(), v.minLength(1, "--kubeconfig needs a path"))),
);

export const contextFlag = flag(
  { name: "context", kind: "string", value: "NAME", help: "The kubeconfig context to use. Default: the kubeconfig's current context." },
  v.optional(v.pipe(v.string(), v.minLength(1, "--context needs a context name"))),
);

/** -n/--namespace naming one namespace. */
export function namespaceFlag(help: string): TypedFlag<string | undefined> {
  return flag({ name: "namespace", short: "n", kind: "string", value: "NS", help }, v.optional(namespaceSchema("namespace")));
}

/** -o/--output FORMAT, as in kubectl: one of `formats`, or `def` when not given. */
export function outputFlag<const F extends readonly [string, ...string[]]>(formats: F, def: F[number]): TypedFlag<F[number]>;
export function outputFlag<const F extends readonly [string, ...string[]]>(formats: F): TypedFlag<F[number] | undefined>;
export function outputFlag<const F extends readonly [string, ...string[]]>(formats: F, def?: F[number]): TypedFlag<F[number] | undefined> {
  const list = formats.length === 2 ? `${formats[0]} or ${formats[1]}` : formats.join(", ");
  const schema = v.picklist(formats, `--output must be ${list}`);
  return flag(
    {
      name: "output",
      short: "o",
      kind: "string",
      value: "FORMAT",
      help: `Output format: ${list}.`,
      ...(def === undefined ? {} : { default: def }),
    },
    def === undefined ? v.optional(schema) : schema,
  );
}

export const helpFlag: TypedFlag<boolean> = { ...boolFlag("help", "Show this help and exit."), short: "h" };

/** The flags every command that talks to a cluster takes, as kubectl's global flags do. */
export const connectionFlags = { kubeconfig: kubeconfigFlag, context: contextFlag };

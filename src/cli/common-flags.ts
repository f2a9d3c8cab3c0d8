// Flags that several commands share, defined once: kubeconfig, context, namespace, output, help.
import * as v from "valibot";
import { boolFlag, flag, type TypedFlag } from "./flag-set.ts";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const NAMESPACE_RULE = "a valid namespace name (lowercase letters, digits and '-', at most 63)";

/** A namespace name: a DNS-1123 label. */
export function isNamespaceName(s: string): boolean {
  return s.length <= 63 && dns1123Label.test(s);
}

export function namespaceSchema(flagName: string) {
  return v.pipe(v.string(), v.check(isNamespaceName, `--${flagName} must be ${NAMESPACE_RULE}`));
}

export const kubeconfigFlag = flag(
  { name: "kubeconfig", kind: "string", value: "PATH", help: "Kubeconfig file to use. Without it: $KUBECONFIG, then in-cluster config, then ~/.kube/config." },
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
    { name: "output", short: "o", kind: "string", value: "FORMAT", help: `Output format: ${list}.`, ...(def === undefined ? {} : { default: def }) },
    def === undefined ? v.optional(schema) : schema,
  );
}

export const helpFlag: TypedFlag<boolean> = { ...boolFlag("help", "Show this help and exit."), short: "h" };

/** The flags every command that talks to a cluster takes, as kubectl's global flags do. */
export const connectionFlags = { kubeconfig: kubeconfigFlag, context: contextFlag };

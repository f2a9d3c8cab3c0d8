/** The label, annotation and ownerReference by which podlogreader knows what it created. */
export const OPT_IN_LABEL = "podlogreader-affiliate";
export const OPT_IN_VALUE = "enable";
export const OPT_IN_SELECTOR = `${OPT_IN_LABEL}=${OPT_IN_VALUE}`;

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "podlogreader";
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** Holds the workload's full `Kind/name`, which a shortened object name may not show. */
export const WORKLOAD_ANNOTATION = "podlogreader.dev/workload";

{{/*
Checks the binary makes of its duration flags that a JSON schema cannot express: the range of a
duration and how two of them compare. values.schema.json checks the syntax (Go's
time.ParseDuration); these compute the value as the binary does (src/util/go-duration.ts: each
number times its unit, summed, refused above 2^63-1 ns) and fail with the binary's own message.
*/}}

{{/* (list VALUE FLAG): the duration in nanoseconds, rounded, as a string; negative stays negative. */}}
{{- define "podlogreader.durationNanos" -}}
{{- $text := index . 0 -}}
{{- $flag := index . 1 -}}
{{- $scale := dict "ns" 1.0 "us" 1e3 "µs" 1e3 "μs" 1e3 "ms" 1e6 "s" 1e9 "m" 60e9 "h" 3600e9 -}}
{{- $rest := trimPrefix "+" (trimPrefix "-" $text) -}}
{{- $sum := 0.0 -}}
{{- range regexFindAll "([0-9]*(\\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)" $rest -1 -}}
{{- $unit := regexFind "(ns|us|µs|μs|ms|s|m|h)$" . -}}
{{- $sum = addf $sum (mulf (float64 (printf "0%s" (trimSuffix $unit .))) (get $scale $unit)) -}}
{{- if gt $sum 9223372036854775807.0 -}}
{{- fail (printf "invalid argument %q for \"--%s\" flag: time: invalid duration %q" $text $flag $text) -}}
{{- end -}}
{{- end -}}
{{- $sum = floor (addf $sum 0.5) -}}
{{- if hasPrefix "-" $text }}{{ $sum = mulf $sum -1.0 }}{{ end -}}
{{- printf "%.0f" $sum -}}
{{- end -}}

{{/* (list VALUE FLAG MIN_NANOS MESSAGE): the nanoseconds; fails if negative or below MIN_NANOS. */}}
{{- define "podlogreader.checkDuration" -}}
{{- $ns := float64 (include "podlogreader.durationNanos" (list (index . 0) (index . 1))) -}}
{{- if lt $ns 0.0 -}}
{{- fail (printf "--%s must not be negative" (index . 1)) -}}
{{- end -}}
{{- if lt $ns (index . 2) -}}
{{- fail (index . 3) -}}
{{- end -}}
{{- printf "%.0f" $ns -}}
{{- end -}}

{{/*
The controller flags that the chart sets from its values and that decide what is granted and
where the controller acts, each with what to set instead. The controller takes the last of a
repeated flag, and extraArgs come last, so one of these in extraArgs would run the controller
otherwise than the values say (podVisibility: own with --pod-visibility=namespace runs
namespace-wide). Its parser reads --NAME, --NAME=VALUE and --NAME VALUE, and -n for --namespace.
values.schema.json refuses the same flags with the same words (test/chart/extra-args.test.ts).
*/}}
{{- define "podlogreader.valueFlags" -}}
{{- $instead := dict -}}
{{- $_ := set $instead "pod-visibility" "set podVisibility instead" -}}
{{- $_ = set $instead "list-pods" "set podVisibility instead" -}}
{{- $_ = set $instead "create-sa-and-rolebinding" "set createServiceAccountAndRoleBinding instead" -}}
{{- $_ = set $instead "namespace" "set watchNamespaces instead" -}}
{{- $_ = set $instead "leader-elect" "the chart always runs leader election; set leaderElection instead" -}}
{{- $_ = set $instead "leader-election-namespace" "the chart keeps the Lease in the release namespace" -}}
{{- $_ = set $instead "leader-election-id" "the chart names the Lease after the release; set fullnameOverride instead" -}}
{{- $_ = set $instead "leader-elect-lease-duration" "set leaderElection.leaseDuration instead" -}}
{{- $_ = set $instead "leader-elect-renew-deadline" "set leaderElection.renewDeadline instead" -}}
{{- $_ = set $instead "leader-elect-retry-period" "set leaderElection.retryPeriod instead" -}}
{{- $_ = set $instead "authorizer-addr" "set authorizer.enabled and authorizer.port instead" -}}
{{- $_ = set $instead "authorizer-tls-cert-file" "set authorizer.certificate instead" -}}
{{- $_ = set $instead "authorizer-tls-key-file" "set authorizer.certificate instead" -}}
{{- $_ = set $instead "authorizer-client-ca-file" "set authorizer.clientCA instead" -}}
{{- $_ = set $instead "role-pod-names" "set authorizer.rolePodNames instead" -}}
{{- toJson $instead -}}
{{- end -}}

{{- define "podlogreader.validateExtraArgs" -}}
{{- $instead := fromJson (include "podlogreader.valueFlags" .) -}}
{{- range .Values.extraArgs -}}
{{- $arg := toString . -}}
{{- $flag := "" -}}
{{- if eq $arg "-n" -}}
{{- $flag = "namespace" -}}
{{- else if hasPrefix "--" $arg -}}
{{- $flag = first (splitList "=" (trimPrefix "--" $arg)) -}}
{{- end -}}
{{- if hasKey $instead $flag -}}
{{- fail (printf "extraArgs must not set --%s; %s" $flag (get $instead $flag)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* With the webhook authorizer on: one client CA, and an issuer when cert-manager makes the certificate. */}}
{{- define "podlogreader.validateAuthorizer" -}}
{{- $a := .Values.authorizer -}}
{{- if $a.enabled -}}
{{- $given := 0 -}}
{{- range (list $a.clientCA.pem $a.clientCA.existingSecret $a.clientCA.existingConfigMap) }}{{ if . }}{{ $given = add1 $given }}{{ end }}{{ end -}}
{{- if ne $given 1 -}}
{{- fail "authorizer.enabled needs exactly one of authorizer.clientCA.pem, authorizer.clientCA.existingSecret and authorizer.clientCA.existingConfigMap: the CA of the apiserver's client certificate for the webhook" -}}
{{- end -}}
{{- if and (eq $a.certificate.source "cert-manager") (not $a.certificate.issuerRef.name) -}}
{{- fail "authorizer.certificate.source cert-manager needs authorizer.certificate.issuerRef.name" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "podlogreader.validate" -}}
{{- include "podlogreader.validateExtraArgs" . -}}
{{- include "podlogreader.validateAuthorizer" . -}}
{{- $_ := include "podlogreader.checkDuration" (list .Values.debounce "debounce" 0.0 "") -}}
{{- $_ = include "podlogreader.checkDuration" (list .Values.resync "resync" 1e9 "--resync must be at least 1s") -}}
{{- $le := .Values.leaderElection -}}
{{- $lease := float64 (include "podlogreader.checkDuration" (list $le.leaseDuration "leader-elect-lease-duration" 1e9 "--leader-elect-lease-duration must be at least 1s")) -}}
{{- $renew := float64 (include "podlogreader.checkDuration" (list $le.renewDeadline "leader-elect-renew-deadline" 1.0 "--leader-elect-renew-deadline must be greater than 0")) -}}
{{- $retry := float64 (include "podlogreader.checkDuration" (list $le.retryPeriod "leader-elect-retry-period" 1.0 "--leader-elect-retry-period must be greater than 0")) -}}
{{- if ge $renew $lease -}}
{{- fail "--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline" -}}
{{- end -}}
{{- if le $renew (mulf $retry 1.2) -}}
{{- fail "--leader-elect-renew-deadline must be greater than 1.2 times --leader-elect-retry-period" -}}
{{- end -}}
{{- end -}}

{{/* Twice the lease duration, in whole seconds: time for a held Lease to go unrenewed for its whole duration. */}}
{{- define "podlogreader.waitForLease" -}}
{{- $ns := float64 (include "podlogreader.durationNanos" (list .Values.leaderElection.leaseDuration "leader-elect-lease-duration")) -}}
{{- printf "%.0fs" (ceil (divf (mulf $ns 2.0) 1e9)) -}}
{{- end -}}

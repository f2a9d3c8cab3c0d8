{{- define "podlogreader.name" -}}
{{- .Values.nameOverride | default .Chart.Name -}}
{{- end -}}

{{/*
The release's full name, not cut to any limit: every object name is derived from it by
podlogreader.cut, which knows the limit of the object's kind.
*/}}
{{- define "podlogreader.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride -}}
{{- else -}}
{{- $name := include "podlogreader.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
(list NAME MAX): NAME when it fits in MAX characters; else its beginning, without a trailing '-' or
'.', then '-' and 8 hex digits of the SHA-256 of the whole NAME, so two long names never share a
cut name by losing their differing ends.
*/}}
{{- define "podlogreader.cut" -}}
{{- $name := index . 0 -}}
{{- $max := index . 1 -}}
{{- if le (len $name) $max -}}
{{- $name -}}
{{- else -}}
{{- printf "%s-%s" (regexReplaceAll "[-.]+$" (trunc (int (sub $max 9)) $name) "") (sha256sum $name | trunc 8) -}}
{{- end -}}
{{- end -}}

{{/* (list . SUFFIX MAX): the full name and SUFFIX, cut to MAX (63 unless the kind's limit is lower). */}}
{{- define "podlogreader.objectName" -}}
{{- include "podlogreader.cut" (list (printf "%s%s" (include "podlogreader.fullname" (index . 0)) (index . 1)) (index . 2)) -}}
{{- end -}}

{{/*
(list . PART): the name of a ClusterRole, ClusterRoleBinding, Role or RoleBinding of the chart:
<fullname>:<part>. The controller names the Roles and RoleBindings it keeps podlogreader-<...>
after workloads, whose names can hold no ':', so a chart RBAC object and a managed one can never
have the same name, whatever the release is called.
*/}}
{{- define "podlogreader.rbacName" -}}
{{- include "podlogreader.cut" (list (printf "%s:%s" (include "podlogreader.fullname" (index . 0)) (index . 1)) 253) -}}
{{- end -}}

{{/*
(list . SUFFIX): a ServiceAccount of the chart, named after the full name and SUFFIX. A name that
would begin with podlogreader- is one the controller may keep for a workload (a Deployment called
audit gets podlogreader-audit), so it becomes podlogreader.sa-<rest> instead; dots are allowed in
ServiceAccount names and never begin the rest of a managed name.
*/}}
{{- define "podlogreader.serviceAccountFor" -}}
{{- $name := printf "%s%s" (include "podlogreader.fullname" (index . 0)) (index . 1) -}}
{{- if hasPrefix "podlogreader-" $name -}}
{{- $name = printf "podlogreader.sa%s" (trimPrefix "podlogreader" $name) -}}
{{- end -}}
{{- include "podlogreader.cut" (list $name 63) -}}
{{- end -}}

{{/* The controller's ServiceAccount: serviceAccount.name, or one named after the release. */}}
{{- define "podlogreader.serviceAccountName" -}}
{{- if .Values.serviceAccount.name -}}
{{- .Values.serviceAccount.name -}}
{{- else if .Values.serviceAccount.create -}}
{{- include "podlogreader.serviceAccountFor" (list . "") -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{- define "podlogreader.auditServiceAccountName" -}}
{{- include "podlogreader.serviceAccountFor" (list . "-audit") -}}
{{- end -}}

{{- define "podlogreader.cleanupServiceAccountName" -}}
{{- include "podlogreader.serviceAccountFor" (list . "-cleanup") -}}
{{- end -}}

{{/* The Lease the replicas elect a leader on. */}}
{{- define "podlogreader.leaseName" -}}
{{- include "podlogreader.objectName" (list . "" 63) -}}
{{- end -}}

{{/* Service names are DNS-1035 labels: no dots. */}}
{{- define "podlogreader.serviceName" -}}
{{- include "podlogreader.cut" (list (printf "%s-metrics" (include "podlogreader.fullname" .) | replace "." "-") 63) -}}
{{- end -}}

{{- define "podlogreader.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podlogreader.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "podlogreader.labels" -}}
{{ include "podlogreader.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of a pod that is not the controller (audit, cleanup, test): never picked by its Service or PDB. */}}
{{- define "podlogreader.componentLabels" -}}
app.kubernetes.io/name: {{ include "podlogreader.cut" (list (printf "%s-%s" (include "podlogreader.name" (index . 0)) (index . 1)) 63) | quote }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name | quote }}
app.kubernetes.io/component: {{ index . 1 | quote }}
{{- with (index . 0).Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* registry/repository, then @digest when given (it wins over the tag), else :tag (default appVersion). */}}
{{- define "podlogreader.image" -}}
{{- $repo := .Values.image.repository -}}
{{- with .Values.image.registry }}{{ $repo = printf "%s/%s" . $repo }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "podlogreader.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{/*
The controller's permissions, the same whether granted cluster-wide or per namespace.
RBAC escalation prevention lets it create a Role only with permissions it holds itself, so it
holds everything it grants: get on pods and pods/log, list on pods, get on the workload kinds.
*/}}
{{- define "podlogreader.rules" -}}
# Follow the workloads; get: granted in each workload's Role.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["daemonsets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch"]
# kubectl logs has no cronjob/NAME, so no Role grants get on CronJobs.
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["list", "watch"]
# Follow the opted-in pods; get, list and watch: granted in each workload's Role.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Granted in each workload's Role (list and watch share the rule that names the pods).
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get", "list", "watch"]
# The Roles it keeps: created, applied (server-side apply is a patch), deleted on opt-out;
# get: each Role grants get on itself.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Events on workloads; repeats update the count of the existing Event.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# Grants (podlogreader grant): watched, and deleted when they end, whatever the values; patch
# empties one whose delete is refused. Never get: grants are read back with a list by name.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings"]
  verbs: ["list", "watch", "delete", "patch"]
{{- if .Values.createServiceAccountAndRoleBinding }}
# The RoleBinding it keeps per workload: created (applied, watched and deleted as above).
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["list", "watch", "create", "delete"]
{{- end }}
{{- end -}}

{{- define "podlogreader.args" -}}
- --leader-elect
- --leader-election-namespace={{ .Release.Namespace }}
- --leader-election-id={{ include "podlogreader.leaseName" . }}
- --leader-elect-lease-duration={{ .Values.leaderElection.leaseDuration }}
- --leader-elect-renew-deadline={{ .Values.leaderElection.renewDeadline }}
- --leader-elect-retry-period={{ .Values.leaderElection.retryPeriod }}
- --metrics-bind-address=:{{ .Values.metrics.port }}
- --health-probe-bind-address=:{{ .Values.healthProbe.port }}
- --create-sa-and-rolebinding={{ .Values.createServiceAccountAndRoleBinding }}
- --pod-visibility={{ .Values.podVisibility }}
- --debounce={{ .Values.debounce }}
- --resync={{ .Values.resync }}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- if .Values.authorizer.enabled }}
{{- $dir := include "podlogreader.authorizerMountPath" . }}
- --authorizer-addr=:{{ .Values.authorizer.port }}
- --authorizer-tls-cert-file={{ $dir }}/tls/tls.crt
- --authorizer-tls-key-file={{ $dir }}/tls/tls.key
- --authorizer-client-ca-file={{ $dir }}/client-ca/ca.crt
- --role-pod-names={{ .Values.authorizer.rolePodNames }}
{{- end }}
{{- with .Values.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The namespaces a namespace-scoped object is made in for each watched namespace, or "" for cluster-wide. */}}
{{- define "podlogreader.scopes" -}}
{{- toJson (.Values.watchNamespaces | default (list "")) -}}
{{- end -}}

{{/* The webhook authorizer's Service (a DNS-1035 label) and its DNS names, shortest first. */}}
{{- define "podlogreader.authorizerServiceName" -}}
{{- include "podlogreader.cut" (list (printf "%s-authorizer" (include "podlogreader.fullname" .) | replace "." "-") 63) -}}
{{- end -}}

{{- define "podlogreader.authorizerDnsNames" -}}
{{- $svc := include "podlogreader.authorizerServiceName" . -}}
{{- $ns := .Release.Namespace -}}
{{- toJson (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) -}}
{{- end -}}

{{/* The Secret with the serving certificate (ca.crt, tls.crt, tls.key), made by the chart or by cert-manager. */}}
{{- define "podlogreader.authorizerTlsSecretName" -}}
{{- include "podlogreader.objectName" (list . "-authorizer-tls" 253) -}}
{{- end -}}

{{- define "podlogreader.authorizerClientCaConfigMapName" -}}
{{- include "podlogreader.objectName" (list . "-authorizer-client-ca" 253) -}}
{{- end -}}

{{/* The URL the apiserver calls: the fixed ClusterIP when given, else the Service's DNS name. */}}
{{- define "podlogreader.authorizerUrl" -}}
{{- $a := .Values.authorizer -}}
{{- if $a.clusterIP -}}
{{- printf "https://%s:%v" (ternary (printf "[%s]" $a.clusterIP) $a.clusterIP (contains ":" $a.clusterIP)) $a.port -}}
{{- else -}}
{{- printf "https://%s.%s.svc:%v" (include "podlogreader.authorizerServiceName" .) .Release.Namespace $a.port -}}
{{- end -}}
{{- end -}}

{{- define "podlogreader.authorizerMountPath" -}}/etc/podlogreader/authorizer{{- end -}}

{{/* What the chart's certificate is made for: its DNS names and addresses, comma-separated. */}}
{{- define "podlogreader.authorizerCertificateNames" -}}
{{- $names := fromJsonArray (include "podlogreader.authorizerDnsNames" .) -}}
{{- with .Values.authorizer.clusterIP }}{{ $names = append $names . }}{{ end -}}
{{- join "," $names -}}
{{- end -}}

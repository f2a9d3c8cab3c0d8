{{- define "podlogreader.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "podlogreader.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "podlogreader.labels" -}}
{{ include "podlogreader.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
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
{{- if .Values.createServiceAccountAndRoleBinding }}
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["list", "watch", "create", "delete"]
{{- end }}
{{- end -}}

{{- define "podlogreader.args" -}}
- --leader-elect
- --leader-election-namespace={{ .Release.Namespace }}
- --leader-election-id={{ include "podlogreader.fullname" . }}
- --http-addr=:8080
- --create-sa-and-rolebinding={{ .Values.createServiceAccountAndRoleBinding }}
- --pod-visibility={{ .Values.podVisibility }}
- --debounce={{ .Values.debounce }}
- --resync={{ .Values.resync }}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- end -}}

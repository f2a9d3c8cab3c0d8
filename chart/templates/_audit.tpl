{{/*
(list . NAMESPACES): the pod spec that runs `podlogreader audit`, one container per namespace
("" for all); audit takes one namespace, and the pod succeeds only if every container does.
*/}}
{{- define "podlogreader.auditPodSpec" -}}
{{- $root := index . 0 -}}
serviceAccountName: {{ include "podlogreader.auditServiceAccountName" $root | quote }}
restartPolicy: Never
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with $root.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
{{- range $i, $ns := index . 1 }}
  - name: audit{{ if $i }}-{{ $i }}{{ end }}
    image: {{ include "podlogreader.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args: ["audit", "--output", "json"{{ if $ns }}, "--namespace", {{ $ns | quote }}{{ end }}]
    {{- with $root.Values.securityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $root.Values.audit.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- with $root.Values.audit.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.audit.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.audit.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

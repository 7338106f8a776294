{{/* The prefix of every object's name: the release name when it holds the chart's name
(release "streamreplay" gives config/default's names), else "<release>-streamreplay";
at most 28 characters, so that "<prefix>-controller-manager-metrics-service" fits a
Service name (63). */}}
{{- define "streamreplay.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 28 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 28 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. app.kubernetes.io/name is the one config/ uses too. */}}
{{- define "streamreplay.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The manager's pods, as config/manager labels them: the runs' NetworkPolicies
(--operator-pod-labels) and the metrics Service select them by control-plane. */}}
{{- define "streamreplay.selectorLabels" -}}
control-plane: controller-manager
{{- end -}}

{{- define "streamreplay.serviceAccountName" -}}
{{ include "streamreplay.fullname" . }}-controller-manager
{{- end -}}

{{/* The manager's image: repository with the digest, else the tag (default appVersion). */}}
{{- define "streamreplay.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* A label map as a selector string: metrics=enabled,team=x */}}
{{- define "streamreplay.selectorString" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The rules of a Role or ClusterRole of config/rbac, copied into files/ by
`make build-installer`, so that the chart grants what config/ grants. */}}
{{- define "streamreplay.rules" -}}
{{- $role := .ctx.Files.Get (printf "files/rbac/%s" .file) | fromYaml -}}
{{- if not $role.rules -}}
{{- fail (printf "files/rbac/%s has no rules: run make build-installer" .file) -}}
{{- end -}}
rules:
{{ toYaml $role.rules }}
{{- end -}}

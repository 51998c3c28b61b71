{{- define "outpost-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "outpost-hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "outpost-hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "outpost-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The Deployment's selector, which Kubernetes never lets an upgrade change: the chart's own name and the
release's, so no value (nameOverride, fullnameOverride) moves it.
*/}}
{{- define "outpost-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* REGISTRY/REPOSITORY@DIGEST, or :TAG (default the chart's appVersion); global.imageRegistry wins. */}}
{{- define "outpost-hub.image" -}}
{{- $registry := default .Values.image.registry (and .Values.global .Values.global.imageRegistry) }}
{{- $repository := ternary (printf "%s/%s" $registry .Values.image.repository) .Values.image.repository (ne $registry "") }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "outpost-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "outpost-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* listenHost as the host of a HOST:PORT flag: an IPv6 address in brackets ("[::]"). */}}
{{- define "outpost-hub.listenHost" -}}
{{- ternary (printf "[%s]" .Values.listenHost) .Values.listenHost (contains ":" .Values.listenHost) }}
{{- end }}

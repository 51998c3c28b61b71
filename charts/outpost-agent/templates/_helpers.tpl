{{- define "outpost-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "outpost-agent.fullname" -}}
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

{{- define "outpost-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "outpost-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "outpost-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outpost-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "outpost-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "outpost-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "outpost-agent.tokenSecret" -}}
{{- if .Values.token.existingSecret }}{{ .Values.token.existingSecret }}{{ else }}{{ include "outpost-agent.fullname" . }}-token{{ end }}
{{- end }}

{{/* Every namespace step pods run in: stepNamespace.name plus each in-cluster pool's own namespace. */}}
{{- define "outpost-agent.stepNamespaces" -}}
{{- $ns := list .Values.stepNamespace.name }}
{{- range .Values.pools }}
{{- if and (eq (default "process" .executor) "kubernetes") (not (and .kubernetes .kubernetes.kubeconfig)) }}
{{- $ns = append $ns (default $.Values.stepNamespace.name (and .kubernetes .kubernetes.namespace)) }}
{{- end }}
{{- end }}
{{- toJson (uniq $ns) }}
{{- end }}

{{/*
The executor's rules, exactly agent/executors/kubernetes/rbac.ts (DOCUMENTED_RBAC, docs/kubernetes.md);
test/charts checks the rendered Role against that list.
*/}}
{{- define "outpost-agent.rbacRules" -}}
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch, create, delete]
- apiGroups: ['']
  resources: [pods/log]
  verbs: [get]
- apiGroups: ['']
  resources: [pods/attach, pods/exec]
  verbs: [get, create]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, create, delete]
{{- end }}

{{/* The agent config file (agent/config.ts format). */}}
{{- define "outpost-agent.config" -}}
{{- $pools := list }}
{{- range .Values.pools }}
{{- $pool := deepCopy . }}
{{- if eq (default "process" $pool.executor) "kubernetes" }}
{{- $k := default (dict) $pool.kubernetes }}
{{- if not $k.namespace }}{{- $_ := set $k "namespace" $.Values.stepNamespace.name }}{{- end }}
{{- $_ := set $pool "kubernetes" $k }}
{{- end }}
{{- $pools = append $pools $pool }}
{{- end }}
{{- $hub := dict "address" (required "hub.address is required (host:port of the hub's gRPC gateway)" .Values.hub.address) }}
{{- $tls := dict }}
{{- if .Values.hub.tls.caSecret }}{{- $_ := set $tls "ca_file" (printf "/etc/outpost/hub-ca/%s" .Values.hub.tls.caKey) }}{{- end }}
{{- if .Values.hub.tls.serverName }}{{- $_ := set $tls "server_name" .Values.hub.tls.serverName }}{{- end }}
{{- if .Values.hub.tls.insecurePlaintext }}{{- $_ := set $tls "insecure_plaintext" true }}{{- end }}
{{- if $tls }}{{- $_ := set $hub "tls" $tls }}{{- end }}
{{- $config := dict "hub" $hub "token_file" (printf "/etc/outpost/token/%s" .Values.token.key) "cluster" .Values.cluster "work_dir" "/var/lib/outpost-agent" "metrics" (dict "listen" (printf "0.0.0.0:%d" (int .Values.metrics.port))) "drain_timeout_seconds" (int .Values.drainTimeoutSeconds) "cache_max_mb" (int .Values.cacheMaxMb) "pools" $pools }}
{{- toYaml $config }}
{{- end }}

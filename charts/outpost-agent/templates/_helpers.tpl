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

{{/*
The StatefulSet's selector, which Kubernetes never lets an upgrade change: the chart's own name and the
release's, so no value (nameOverride, fullnameOverride) moves it.
*/}}
{{- define "outpost-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* REGISTRY/REPOSITORY@DIGEST, or :TAG (default the chart's appVersion); global.imageRegistry wins. */}}
{{- define "outpost-agent.image" -}}
{{- $registry := default .Values.image.registry (and .Values.global .Values.global.imageRegistry) }}
{{- $repository := ternary (printf "%s/%s" $registry .Values.image.repository) .Values.image.repository (ne $registry "") }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The proxy block as environment variables, in both spellings: grpc-js (the hub connection) reads only
the lower-case https_proxy/grpc_proxy/no_proxy, most other tools (curl, Go) the upper-case ones.
*/}}
{{- define "outpost-agent.proxyEnv" -}}
{{- range $name, $value := dict "http_proxy" .Values.proxy.http "https_proxy" .Values.proxy.https "no_proxy" .Values.proxy.noProxy }}
{{- if $value }}
- { name: {{ $name }}, value: {{ $value | quote }} }
- { name: {{ upper $name }}, value: {{ $value | quote }} }
{{- end }}
{{- end }}
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
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: ['']
  resources: [pods/log]
  verbs: [get]
- apiGroups: ['']
  resources: [pods/attach, pods/exec]
  verbs: [get, create]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, create, patch, delete]
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
{{- if .Values.hub.tls.clientCertSecret }}{{- $_ := set $tls "cert_file" "/etc/outpost/hub-client/tls.crt" }}{{- $_ := set $tls "key_file" "/etc/outpost/hub-client/tls.key" }}{{- end }}
{{- if .Values.hub.tls.insecurePlaintext }}{{- $_ := set $tls "insecure_plaintext" true }}{{- end }}
{{- if $tls }}{{- $_ := set $hub "tls" $tls }}{{- end }}
{{- $cluster := required "cluster is required: a name for this cluster, unique per hub (e.g. eu-1); the hub knows each agent as CLUSTER/POD-NAME" .Values.cluster }}
{{- $listen := ternary (printf "[%s]" .Values.listenHost) .Values.listenHost (contains ":" .Values.listenHost) }}
{{- $config := dict "hub" $hub "token_file" (printf "/etc/outpost/token/%s" .Values.token.key) "cluster" $cluster "work_dir" "/var/lib/outpost-agent" "metrics" (dict "listen" (printf "%s:%d" $listen (int .Values.metrics.port))) "drain_timeout_seconds" (int .Values.drainTimeoutSeconds) "cache_max_mb" (int .Values.cacheMaxMb) "task_cache_max_mb" (int .Values.taskCacheMaxMb) "pools" $pools }}
{{- if .Values.dataEndpoint.enabled }}
{{- $port := int .Values.dataEndpoint.port }}
{{- /* {hostname}: each agent's own pod name, so a step pod reaches the agent that runs it. */}}
{{- $_ := set $config "data_endpoint" (dict "listen" (printf "%s:%d" $listen $port) "advertise" (printf "http://{hostname}.%s.%s.svc:%d" (include "outpost-agent.fullname" .) .Release.Namespace $port)) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "scim-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-qualified unless the release already carries the chart name. */}}
{{- define "scim-bridge.fullname" -}}
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

{{- define "scim-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scim-bridge.commonLabels" -}}
helm.sh/chart: {{ include "scim-bridge.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the bridge's objects. */}}
{{- define "scim-bridge.labels" -}}
{{ include "scim-bridge.commonLabels" . }}
{{ include "scim-bridge.selectorLabels" . }}
{{- end }}

{{/* Labels of the bundled Redis's objects. */}}
{{- define "scim-bridge.redisLabels" -}}
{{ include "scim-bridge.commonLabels" . }}
{{ include "scim-bridge.redisSelectorLabels" . }}
{{- end }}

{{- define "scim-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scim-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bridge
{{- end }}

{{- define "scim-bridge.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "scim-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "scim-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scim-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scim-bridge.secretName" -}}
{{- default (include "scim-bridge.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "scim-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Redis URL the bridge uses: the external one, or the bundled StatefulSet's service. */}}
{{- define "scim-bridge.redisURL" -}}
{{- if .Values.redis.bundled.enabled }}
{{- printf "redis://%s-redis:6379/0" (include "scim-bridge.fullname" .) }}
{{- else }}
{{- required "redis.url is required when redis.bundled.enabled is false" .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The bridge.yaml the ConfigMap holds. */}}
{{- define "scim-bridge.config" -}}
{{- $c := .Values.config -}}
{{- $cfg := dict
    "listen" (printf "0.0.0.0:%d" (int .Values.service.port))
    "redis" (include "scim-bridge.redisURL" .)
    "workers" $c.workers
    "max_body_bytes" $c.maxBodyBytes
    "max_results" $c.maxResults
    "log" $c.log -}}
{{- if $c.publicURL }}{{- $_ := set $cfg "public_url" $c.publicURL }}{{- end }}
{{- if $c.tenants }}{{- $_ := set $cfg "tenants" $c.tenants }}{{- end }}
{{- if $c.authLimit }}{{- $_ := set $cfg "auth_limit" $c.authLimit }}{{- end }}
{{- toYaml $cfg }}
{{- end }}

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

{{/*
Name of the bundled Redis's Service, StatefulSet and NetworkPolicy: at most 52
characters, so that the StatefulSet's pods can carry the controller-revision-hash
label (<name>-<10 characters>, at most 63).
*/}}
{{- define "scim-bridge.redisName" -}}
{{- printf "%s-redis" (include "scim-bridge.fullname" . | trunc 46 | trimSuffix "-") }}
{{- end }}

{{/* The Redis URL the bridge uses: the external one, or the bundled StatefulSet's service. */}}
{{- define "scim-bridge.redisURL" -}}
{{- if .Values.redis.bundled.enabled }}
{{- printf "redis://%s:6379/0" (include "scim-bridge.redisName" .) }}
{{- else }}
{{- required "redis.url is required when redis.bundled.enabled is false" .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The bridge.yaml the ConfigMap holds. */}}
{{- define "scim-bridge.config" -}}
{{- $c := .Values.config -}}
{{- $cfg := dict
    "listen" (printf "0.0.0.0:%d" (int .Values.containerPort))
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

{{/*
The bytes of a Kubernetes quantity in the forms the values schema accepts (a
number, or digits with an optional fraction and suffix: 512Mi, 1.5Gi, 1500M),
printed as a float; "" for an empty quantity.
*/}}
{{- define "scim-bridge.quantityBytes" -}}
{{- if kindIs "float64" . }}
{{- . }}
{{- else if kindIs "int" . }}
{{- float64 . }}
{{- else if kindIs "int64" . }}
{{- float64 . }}
{{- else if . }}
{{- $units := dict "" 1 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18
    "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 }}
{{- $q := toString . }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $unit := trimPrefix $num $q }}
{{- if or (not $num) (not (hasKey $units $unit)) }}
{{- fail (printf "%q is not a memory quantity such as 512Mi or 1Gi" $q) }}
{{- end }}
{{- mulf (float64 $num) (get $units $unit) }}
{{- end }}
{{- end }}

{{/*
percentOfQuantity: "<percent of a quantity>" in whole bytes, from a list of the
quantity and the percent; "" when the quantity is empty.
*/}}
{{- define "scim-bridge.percentOfQuantity" -}}
{{- $bytes := include "scim-bridge.quantityBytes" (index . 0) }}
{{- if $bytes }}
{{- printf "%.0f" (floor (divf (mulf (float64 $bytes) (index . 1)) 100)) }}
{{- end }}
{{- end }}

{{/*
GOMEMLIMIT of the bridge: 90% of its container's memory limit, as a byte count
(the Go runtime's format). The collector works harder as the heap nears it, so a
burst slows the process down before the kernel kills it. The 10% left is for
what the container's cgroup counts and the Go runtime does not (the binary's
pages, kernel socket buffers, page cache). Empty without a memory limit.
*/}}
{{- define "scim-bridge.goMemLimit" -}}
{{- include "scim-bridge.percentOfQuantity" (list (dig "limits" "memory" "" (.Values.resources | default dict)) 90) }}
{{- end }}

{{/*
--maxmemory of the bundled Redis: 60% of its memory limit, leaving room for the
copy-on-write of an AOF rewrite or RDB snapshot (a forked child) and for
fragmentation. With noeviction, writes beyond it fail with an error (a 5xx to
the IdP, which retries) instead of the kernel killing Redis mid-write. Empty
without a limit.
*/}}
{{- define "scim-bridge.redisMaxMemory" -}}
{{- include "scim-bridge.percentOfQuantity" (list (dig "resources" "limits" "memory" "" .Values.redis.bundled) 60) }}
{{- end }}

{{/* The chart name, or nameOverride. */}}
{{- define "fedcommons.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name. Truncated so that the longest suffix
("-leader-election") still fits a 63-character name.
*/}}
{{- define "fedcommons.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fedcommons.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "fedcommons.labels" -}}
helm.sh/chart: {{ include "fedcommons.chart" . }}
{{ include "fedcommons.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fedcommons
{{- end }}

{{/*
Selects the manager's pods. Deliberately not app.kubernetes.io/managed-by:
the operator's cache filters on managed-by=fedcommons for the objects it
creates, and the operator's own pod is not one of them.
*/}}
{{- define "fedcommons.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fedcommons.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fedcommons.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fedcommons.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fedcommons.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

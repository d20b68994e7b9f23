{{/* The name every object of the installation carries: the controller's Service URL uses it. */}}
{{- define "resource-hooks.name" -}}
resource-hooks
{{- end -}}

{{- define "resource-hooks.selectorLabels" -}}
app.kubernetes.io/name: resource-hooks
app.kubernetes.io/component: controller
{{- end -}}

{{- define "resource-hooks.labels" -}}
{{ include "resource-hooks.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

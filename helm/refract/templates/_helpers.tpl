{{/*
Names, labels and the environment shared by the templates of the Refract chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "refract.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, else <release>-<name> (only <release> when
the release name already contains the chart name). Kept to 50 characters so that the longest
suffix ("-gateway", "-worker") still fits the 63 characters of a DNS label.
*/}}
{{- define "refract.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "refract.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "refract.labels" -}}
helm.sh/chart: {{ include "refract.chart" . }}
app.kubernetes.io/name: {{ include "refract.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: refract
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "refract.selectorLabels" -}}
app.kubernetes.io/name: {{ include "refract.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Names of the components' resources. */}}
{{- define "refract.gatewayName" -}}
{{- printf "%s-gateway" (include "refract.fullname" .) }}
{{- end }}

{{/* The workers' headless Service: what gateways discover workers through. */}}
{{- define "refract.workerName" -}}
{{- printf "%s-worker" (include "refract.fullname" .) }}
{{- end }}

{{- define "refract.redisName" -}}
{{- printf "%s-redis" (include "refract.fullname" .) }}
{{- end }}

{{/* The gateway's ServiceAccount. */}}
{{- define "refract.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "refract.gatewayName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the token-signing key. */}}
{{- define "refract.secretName" -}}
{{- default (printf "%s-secret" (include "refract.fullname" .)) .Values.secret.existingSecret }}
{{- end }}

{{/* An image reference: call with (dict "ctx" $ "image" .Values.gateway.image). */}}
{{- define "refract.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/*
The address gateways find workers at, as the gateway's arguments: the headless Service's name
(kubernetes mode: its EndpointSlices, watched through the API) or its DNS name and gRPC port.
*/}}
{{- define "refract.discoveryArgs" -}}
{{- if eq .Values.discovery.mode "kubernetes" }}
- --workers-k8s-service
- {{ include "refract.workerName" . }}
{{- else }}
- --workers-dns
- {{ printf "%s.%s.svc.%s:%d" (include "refract.workerName" .) .Release.Namespace .Values.discovery.clusterDomain (int .Values.worker.grpcPort) }}
{{- end }}
{{- end }}

{{/* The Secret holding the development Redis's password (redis.enabled). */}}
{{- define "refract.redisSecretName" -}}
{{- printf "%s-redis" (include "refract.fullname" .) }}
{{- end }}

{{/* REDIS_PASSWORD from the development Redis's Secret (a container's env entry). */}}
{{- define "refract.redisPasswordEnv" -}}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "refract.redisSecretName" . }}
      key: password
{{- end }}

{{/*
REFRACT_REDIS: the development Redis (with its password, which Kubernetes substitutes for
$(REDIS_PASSWORD), defined just before), a Secret's key, or the URL.
*/}}
{{- define "refract.redisEnv" -}}
{{- if .Values.redis.enabled }}
{{ include "refract.redisPasswordEnv" . }}
- name: REFRACT_REDIS
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379" (include "refract.redisName" .) | quote }}
{{- else if .Values.redis.urlSecret.name }}
- name: REFRACT_REDIS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.urlSecret.name }}
      key: {{ .Values.redis.urlSecret.key }}
{{- else if .Values.redis.url }}
- name: REFRACT_REDIS
  value: {{ .Values.redis.url | quote }}
{{- else }}
{{- fail "redis: set redis.url (or redis.urlSecret.name) to your Redis, or redis.enabled=true for a development Redis" }}
{{- end }}
{{- end }}

{{/*
The pod's identity and the OpenTelemetry SDK's variables: call with
(dict "ctx" $ "service" "refract-gateway"). Without otel.endpoint only POD_NAME and POD_NAMESPACE.
*/}}
{{- define "refract.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .ctx.Values.otel }}
{{- if .endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .protocol | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $.service | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE),service.namespace=%s%s" $.ctx.Release.Name (ternary (printf ",%s" .resourceAttributes) "" (ne .resourceAttributes "")) | quote }}
{{- if .tracesSampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .tracesSampler | quote }}
{{- end }}
{{- if .tracesSamplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .tracesSamplerArg | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The gRPC link's TLS settings (grpcTls.secretName), as container env entries. */}}
{{- define "refract.grpcTlsEnv" -}}
{{- if .Values.grpcTls.secretName }}
- name: REFRACT_GRPC_TLS_CERT
  value: /etc/refract/grpc-tls/tls.crt
- name: REFRACT_GRPC_TLS_KEY
  value: /etc/refract/grpc-tls/tls.key
- name: REFRACT_GRPC_TLS_CA
  value: /etc/refract/grpc-tls/ca.crt
- name: REFRACT_GRPC_TLS_DOMAIN
  value: {{ .Values.grpcTls.domain | quote }}
{{- end }}
{{- end }}

{{/* The mount of the gRPC link's certificates (a container's volumeMounts entry). */}}
{{- define "refract.grpcTlsMount" -}}
{{- if .Values.grpcTls.secretName }}
- name: grpc-tls
  mountPath: /etc/refract/grpc-tls
  readOnly: true
{{- end }}
{{- end }}

{{/* The volume of the gRPC link's certificates (a pod's volumes entry). */}}
{{- define "refract.grpcTlsVolume" -}}
{{- if .Values.grpcTls.secretName }}
- name: grpc-tls
  secret:
    secretName: {{ .Values.grpcTls.secretName }}
{{- end }}
{{- end }}

{{/* How a worker's health is probed: natively over gRPC, or with TLS by its image's check. */}}
{{- define "refract.workerProbe" -}}
{{- if .Values.grpcTls.secretName }}
exec:
  command: ["refract-app", "healthcheck"]
{{- else }}
grpc:
  port: {{ .Values.worker.grpcPort }}
{{- end }}
{{- end }}

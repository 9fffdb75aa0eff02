{{/*
Names. "mp-webhooks.fullname" is also used by files/prometheus-rules.yaml (job labels)
and mirrored by scripts/render-rules: keep the standard Helm shape.
*/}}
{{- define "mp-webhooks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mp-webhooks.fullname" -}}
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

{{/* <fullname>-<component>: object names, and the scrape job label (Service name). */}}
{{- define "mp-webhooks.componentName" -}}
{{- printf "%s-%s" (include "mp-webhooks.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mp-webhooks.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mp-webhooks.configMapName" -}}
{{- printf "%s-config" (include "mp-webhooks.fullname" .) }}
{{- end }}

{{- define "mp-webhooks.secretName" -}}
{{- default (printf "%s-secrets" (include "mp-webhooks.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "mp-webhooks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mp-webhooks.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Labels. Selector labels always include the component, so no two workloads' selectors
overlap (the tests check it). Call with (dict "root" $ "component" "receiver").
*/}}
{{- define "mp-webhooks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mp-webhooks.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of the release as a whole (objects that belong to no single component). */}}
{{- define "mp-webhooks.releaseLabels" -}}
helm.sh/chart: {{ include "mp-webhooks.chart" . }}
app.kubernetes.io/name: {{ include "mp-webhooks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mp-webhooks
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mp-webhooks.labels" -}}
{{ include "mp-webhooks.releaseLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* "repo:tag" or "repo@digest". Call with (dict "image" .Values.x.image "root" $). */}}
{{- define "mp-webhooks.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
Where REDIS_URL comes from: "configmap" (bundled Redis, or an external URL without a
password) or "secret" (redis.external.existingSecret).
*/}}
{{- define "mp-webhooks.redisUrlSource" -}}
{{- if and (not .Values.redis.enabled) .Values.redis.external.existingSecret }}secret{{ else }}configmap{{ end }}
{{- end }}

{{- define "mp-webhooks.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s:6379/%d" (include "mp-webhooks.componentName" (dict "root" . "component" "redis")) (int .Values.redis.database) }}
{{- else }}
{{- .Values.redis.external.url }}
{{- end }}
{{- end }}

{{/* Fails rendering on combinations the schema cannot express clearly. */}}
{{- define "mp-webhooks.validate" -}}
{{- if and (not .Values.redis.enabled) (not .Values.redis.external.url) (not .Values.redis.external.existingSecret) }}
{{- fail "redis.enabled=false needs redis.external.url or redis.external.existingSecret" }}
{{- end }}
{{- if and (not .Values.redis.enabled) (regexMatch "^rediss?://[^/@]*:[^/@]+@" .Values.redis.external.url) }}
{{- fail "redis.external.url carries a password: put the URL in a Secret and set redis.external.existingSecret instead (the URL would land in a ConfigMap)" }}
{{- end }}
{{- if and .Values.worker.autoscaling.enabled .Values.worker.keda.enabled }}
{{- fail "worker.autoscaling.enabled and worker.keda.enabled are mutually exclusive (both would scale the worker Deployment)" }}
{{- end }}
{{- if and .Values.worker.keda.enabled (not .Values.redis.enabled) (not .Values.worker.keda.redisAddress) }}
{{- fail "worker.keda.enabled with an external Redis needs worker.keda.redisAddress (host:port)" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.podMonitor.enabled }}
{{- fail "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled are mutually exclusive (every pod would be scraped twice)" }}
{{- end }}
{{- end }}

{{/*
The command a long-running container runs. With dev.reload, watchfiles runs it and
restarts it when a synced Python file changes. Call with (dict "root" $ "args" list).
*/}}
{{- define "mp-webhooks.command" -}}
{{- if .root.Values.dev.reload }}
command:
  - watchfiles
  - --target-type
  - command
  - --filter
  - python
  - {{ printf "mp-webhooks %s" (join " " .args) | quote }}
  - /app/services
{{- else }}
command:
  - mp-webhooks
args:
{{- range .args }}
  - {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every pod of the release. */}}
{{- define "mp-webhooks.podSecurity" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Scheduling knobs of one component. Call with (dict "values" .Values.x). */}}
{{- define "mp-webhooks.scheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* /tmp is the only writable path (read-only root filesystem). */}}
{{- define "mp-webhooks.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "mp-webhooks.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
Environment of an application container: the ConfigMap for settings, REDIS_URL from a
Secret when it lives in one, only the secret keys this component uses (optional, so a
Secret without a key starts the pod and the process names the missing variable), and the
downward API. Call with (dict "root" $ "secrets" (list "MP_ACCESS_TOKEN") "downward" true).
*/}}
{{- define "mp-webhooks.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "mp-webhooks.configMapName" .root }}
env:
{{- if eq (include "mp-webhooks.redisUrlSource" .root) "secret" }}
  - name: REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ .root.Values.redis.external.existingSecret }}
        key: {{ .root.Values.redis.external.existingSecretKey }}
{{- end }}
{{- range .secrets }}
  - name: {{ . }}
    valueFrom:
      secretKeyRef:
        name: {{ include "mp-webhooks.secretName" $.root }}
        key: {{ . }}
        optional: true
{{- end }}
{{- if .downward }}
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: POD_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
{{- end }}
{{- range .extra }}
  - {{ toYaml . | nindent 4 | trim }}
{{- end }}
{{- end }}

{{/*
A long-running application container's securityContext. With dev.reload the root
filesystem is writable, because skaffold's file sync writes into /app/services.
*/}}
{{- define "mp-webhooks.appContainerSecurityContext" -}}
{{- if .Values.dev.reload }}
{{- $context := deepCopy .Values.containerSecurityContext }}
{{- $_ := set $context "readOnlyRootFilesystem" false }}
{{- toYaml $context }}
{{- else }}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}
{{- end }}

{{/* Roll the pods when settings or chart-managed secrets change. */}}
{{- define "mp-webhooks.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/* Egress rules shared by every component when egress is restricted: DNS, Redis,
and HTTPS (Mercado Pago, GoHighLevel, the Kubernetes API on 443). */}}
{{- define "mp-webhooks.egressRules" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- ports:
    - {port: 6379, protocol: TCP}
- ports:
    - {port: 443, protocol: TCP}
{{- with .Values.networkPolicy.egress.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

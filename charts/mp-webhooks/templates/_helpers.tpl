{{/*
Names. "mp-webhooks.fullname" is also used by files/prometheus-rules.yaml (job labels).
It is cut to 41 characters so that every
<fullname>-<component> name fits the tightest limit among them: 52 for the CronJobs
(their Jobs append an 11-character suffix and must stay valid label values) and the
StatefulSet (its pods carry a controller-revision-hash label of <name>-<10 characters>).
*/}}
{{- define "mp-webhooks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mp-webhooks.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 41 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 41 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 41 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>: object names, and the scrape job label (Service name). */}}
{{- define "mp-webhooks.componentName" -}}
{{- printf "%s-%s" (include "mp-webhooks.fullname" .root) .component }}
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

{{/*
The Secret holding CONSOLE_SESSION_SECRET: the chart's (or yours) when the value is given
or secrets.existingSecret is set, else the console's generated one
(console-session-secret.yaml), which the pods' checksum/secret leaves out.
*/}}
{{- define "mp-webhooks.consoleSessionSecretName" -}}
{{- if or .Values.secrets.consoleSessionSecret .Values.secrets.existingSecret }}
{{- include "mp-webhooks.secretName" . }}
{{- else }}
{{- printf "%s-console-session" (include "mp-webhooks.fullname" .) }}
{{- end }}
{{- end }}

{{- define "mp-webhooks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mp-webhooks.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The bundled Redis' Service as other namespaces (KEDA's operator) resolve it. */}}
{{- define "mp-webhooks.redisFqdn" -}}
{{- printf "%s.%s.svc.%s" (include "mp-webhooks.componentName" (dict "root" . "component" "redis")) .Release.Namespace .Values.clusterDomain }}
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

{{/*
An object's metadata: name, namespace, labels (the component's, or the release's when
no component is given, plus .labels) and annotations (commonAnnotations plus
.annotations). Call with (dict "root" $ "name" n "component" c "namespace" ns
"labels" dict "annotations" dict); all but root and name are optional.
*/}}
{{- define "mp-webhooks.metadata" -}}
name: {{ .name }}
namespace: {{ .namespace | default .root.Release.Namespace }}
labels:
  {{- if .component }}
  {{- include "mp-webhooks.labels" . | nindent 2 }}
  {{- else }}
  {{- include "mp-webhooks.releaseLabels" .root | nindent 2 }}
  {{- end }}
  {{- with .labels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with merge (dict) (.annotations | default dict) .root.Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
An image reference: [registry/]repository:tag or [registry/]repository@digest, where
global.imageRegistry replaces the image's registry. Call with (dict "image" x "root" $).
*/}}
{{- define "mp-webhooks.image" -}}
{{- $registry := .root.Values.global.imageRegistry | default .image.registry }}
{{- $repository := .image.repository }}
{{- if $registry }}
{{- $repository = printf "%s/%s" $registry .image.repository }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository .image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion .image.tag | toString) }}
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

{{/*
The Secret holding REDIS_PASSWORD, as "name key", or "" when Redis has none (an external
Redis without redis.external.passwordSecret). The bundled Redis always has one.
*/}}
{{- define "mp-webhooks.redisPasswordRef" -}}
{{- $r := .Values.redis }}
{{- if $r.enabled }}
{{- printf "%s %s" ($r.auth.existingSecret | default (include "mp-webhooks.componentName" (dict "root" . "component" "redis"))) $r.auth.existingSecretKey }}
{{- else if $r.external.passwordSecret }}
{{- printf "%s %s" $r.external.passwordSecret $r.external.passwordSecretKey }}
{{- end }}
{{- end }}

{{/* An EnvVar `name` taking the Redis password from its Secret (none when there is none). */}}
{{- define "mp-webhooks.redisPasswordEnv" -}}
{{- with (include "mp-webhooks.redisPasswordRef" .root) }}
{{- $ref := splitList " " . }}
- name: {{ $.name }}
  valueFrom:
    secretKeyRef:
      name: {{ index $ref 0 }}
      key: {{ index $ref 1 }}
{{- end }}
{{- end }}

{{/* Where the external Redis' CA bundle is mounted; "" when none is configured. */}}
{{- define "mp-webhooks.redisCaPath" -}}
{{- $ca := .Values.redis.external.caBundle }}
{{- if and (not .Values.redis.enabled) (or $ca.secretName $ca.configMapName) }}
{{- printf "/etc/mp-webhooks/redis-ca/%s" $ca.key }}
{{- end }}
{{- end }}

{{/* The port pods open to reach Redis (egress rules): the bundled one's, or external.port. */}}
{{- define "mp-webhooks.redisPort" -}}
{{- if .Values.redis.enabled }}6379{{ else }}{{ .Values.redis.external.port }}{{ end }}
{{- end }}

{{/* Fails rendering on combinations the schema cannot express clearly. */}}
{{- define "mp-webhooks.validate" -}}
{{- $v := .Values }}
{{- if and (not $v.redis.enabled) (not $v.redis.external.url) (not $v.redis.external.existingSecret) }}
{{- fail "redis.enabled=false needs redis.external.url or redis.external.existingSecret" }}
{{- end }}
{{- if and (not $v.redis.enabled) $v.redis.external.caBundle.secretName $v.redis.external.caBundle.configMapName }}
{{- fail "redis.external.caBundle: set secretName or configMapName, not both" }}
{{- end }}
{{- if and (not $v.redis.enabled) (regexMatch "^rediss?://[^/@]*:[^/@]+@" $v.redis.external.url) }}
{{- fail "redis.external.url carries a password: put the password in a Secret and set redis.external.passwordSecret instead (the URL would land in a ConfigMap)" }}
{{- end }}
{{- if and $v.worker.autoscaling.enabled $v.worker.keda.enabled }}
{{- fail "worker.autoscaling.enabled and worker.keda.enabled are mutually exclusive (both would scale the worker Deployment)" }}
{{- end }}
{{- if and $v.worker.keda.enabled (not $v.redis.enabled) (not $v.worker.keda.redisAddress) }}
{{- fail "worker.keda.enabled with an external Redis needs worker.keda.redisAddress (host:port)" }}
{{- end }}
{{- if and $v.metrics.serviceMonitor.enabled $v.metrics.podMonitor.enabled }}
{{- fail "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled are mutually exclusive (every pod would be scraped twice)" }}
{{- end }}
{{- if le (int $v.receiver.terminationGracePeriodSeconds) (int $v.receiver.preStopSleepSeconds) }}
{{- fail "receiver.terminationGracePeriodSeconds must exceed receiver.preStopSleepSeconds (the pause would use up the grace period before uvicorn drains)" }}
{{- end }}
{{- /* The receiver and the console serve /metrics on the port their *From restricts. */}}
{{- $restricting := list }}
{{- if $v.networkPolicy.receiverFrom }}{{ $restricting = append $restricting (list "receiverFrom" "receiver") }}{{ end }}
{{- if and $v.console.enabled $v.networkPolicy.consoleFrom }}{{ $restricting = append $restricting (list "consoleFrom" "console") }}{{ end }}
{{- range $restricting }}
{{- if and $v.networkPolicy.enabled (not $v.networkPolicy.metricsFrom) (or $v.metrics.serviceMonitor.enabled $v.metrics.podMonitor.enabled) }}
{{- fail (printf "networkPolicy.%s restricts the %s's port, which also serves /metrics: set networkPolicy.metricsFrom to your Prometheus' peers (e.g. its namespace) so it can still scrape" (index . 0) (index . 1)) }}
{{- end }}
{{- end }}
{{- if eq $v.profile "production" }}
{{- $s := $v.secrets }}
{{- if not $s.existingSecret }}
{{- if not $s.mpAccessToken }}
{{- fail "secrets.mpAccessToken is required (the worker fetches payments with it): set it, or secrets.existingSecret, or profile=development" }}
{{- end }}
{{- if not $s.ghlApiToken }}
{{- fail "secrets.ghlApiToken is required (the worker tags GoHighLevel contacts with it): set it, or secrets.existingSecret, or profile=development" }}
{{- end }}
{{- if and (not $s.mpWebhookSecret) (not $v.config.allowUnsigned) }}
{{- fail "secrets.mpWebhookSecret is required (the receiver refuses to start without MP_WEBHOOK_SECRET): set it, or secrets.existingSecret, or config.allowUnsigned=true for development" }}
{{- end }}
{{- end }}
{{- if not $v.config.ghlLocationId }}
{{- fail "config.ghlLocationId is required (the GoHighLevel sub-account the worker tags contacts in): set it, or profile=development" }}
{{- end }}
{{- end }}
{{- include "mp-webhooks.validateApis" . }}
{{- end }}

{{/*
Objects of optional CRDs need their API in the cluster; otherwise the install fails here,
naming the value, instead of half-way through with "no matches for kind".
*/}}
{{- define "mp-webhooks.validateApis" -}}
{{- if .Values.checkApiVersions }}
{{- $needed := list }}
{{- if .Values.metrics.serviceMonitor.enabled }}{{ $needed = append $needed (list "metrics.serviceMonitor.enabled" "monitoring.coreos.com/v1" "ServiceMonitor" "the Prometheus Operator's CRDs") }}{{ end }}
{{- if .Values.metrics.podMonitor.enabled }}{{ $needed = append $needed (list "metrics.podMonitor.enabled" "monitoring.coreos.com/v1" "PodMonitor" "the Prometheus Operator's CRDs") }}{{ end }}
{{- if .Values.prometheusRule.enabled }}{{ $needed = append $needed (list "prometheusRule.enabled" "monitoring.coreos.com/v1" "PrometheusRule" "the Prometheus Operator's CRDs") }}{{ end }}
{{- if .Values.worker.keda.enabled }}{{ $needed = append $needed (list "worker.keda.enabled" "keda.sh/v1alpha1" "ScaledObject" "KEDA") }}{{ end }}
{{- range $needed }}
{{- $value := index . 0 }}
{{- $groupVersion := index . 1 }}
{{- $kind := index . 2 }}
{{- if not (or ($.Capabilities.APIVersions.Has (printf "%s/%s" $groupVersion $kind)) ($.Capabilities.APIVersions.Has $groupVersion)) }}
{{- fail (printf "%s=true needs %s %s, which this cluster does not serve: install %s first, or set %s=false (rendering offline: pass --api-versions %s/%s, or checkApiVersions=false)" $value $groupVersion $kind (index . 3) $value $groupVersion $kind) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The command a long-running container runs. With dev.reload, watchfiles runs it and
restarts it when a synced Python file changes. Call with (dict "root" $ "args" list
"reloadable" bool).
*/}}
{{- define "mp-webhooks.command" -}}
{{- if and .reloadable .root.Values.dev.reload }}
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

{{/* Pull secrets and the pod securityContext, shared by every pod of the release. */}}
{{- define "mp-webhooks.podSecurity" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
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
Environment of an application container: the ConfigMap for settings (plus the
component's extraEnvFrom), REDIS_URL from a Secret when it lives in one, only the secret
keys this component uses (optional, so a Secret without a key starts the pod and the
process names the missing variable), the downward API, then .extra and the component's
extraEnv. Call with (dict "root" $ "values" .Values.x "secrets" (list ...) "extra" list).
*/}}
{{- define "mp-webhooks.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "mp-webhooks.configMapName" .root }}
  {{- with .values.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
env:
{{- if eq (include "mp-webhooks.redisUrlSource" .root) "secret" }}
  - name: REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ .root.Values.redis.external.existingSecret }}
        key: {{ .root.Values.redis.external.existingSecretKey }}
{{- end }}
{{- with (include "mp-webhooks.redisPasswordEnv" (dict "root" .root "name" "REDIS_PASSWORD")) }}
  {{- . | nindent 2 }}
{{- end }}
{{- range .secrets }}
  - name: {{ . }}
    valueFrom:
      secretKeyRef:
        name: {{ include "mp-webhooks.secretName" $.root }}
        key: {{ include "mp-webhooks.secretKey" (dict "root" $.root "name" .) }}
        optional: true
{{- end }}
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: POD_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
{{- with concat (.extra | default list) .values.extraEnv }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A container's securityContext. With dev.reload the long-running containers' root
filesystem is writable, because skaffold's file sync writes into /app/services.
*/}}
{{- define "mp-webhooks.containerSecurityContext" -}}
{{- if and .reloadable .root.Values.dev.reload }}
{{- $context := deepCopy .root.Values.containerSecurityContext }}
{{- $_ := set $context "readOnlyRootFilesystem" false }}
{{- toYaml $context }}
{{- else }}
{{- toYaml .root.Values.containerSecurityContext }}
{{- end }}
{{- end }}

{{/* Roll the pods when settings or chart-managed secrets change. */}}
{{- define "mp-webhooks.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/*
The pod template of an application component (receiver, worker, scheduler, reconciler,
retry): labels, checksums, security, scheduling, the component's container running
`mp-webhooks <args>` with its environment, then its extension points (initContainers,
sidecars, extraVolumes, extraVolumeMounts, extraEnv, extraEnvFrom, podLabels,
podAnnotations). Call with (dict "root" $ "component" c "values" .Values.x "args" list
"secrets" list "reloadable" bool "serviceAccountName" s "automountToken" bool
"grace" int "restartPolicy" s "extraEnv" list "container" yaml), where "container" is
the component's own container fields (ports, probes, lifecycle).
*/}}
{{- define "mp-webhooks.podTemplate" -}}
{{- $root := .root }}
{{- $v := .values -}}
metadata:
  labels:
    {{- include "mp-webhooks.labels" . | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "mp-webhooks.checksums" $root | nindent 4 }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with .restartPolicy }}
  restartPolicy: {{ . }}
  {{- end }}
  serviceAccountName: {{ .serviceAccountName | default (include "mp-webhooks.serviceAccountName" $root) }}
  automountServiceAccountToken: {{ .automountToken | default false }}
  {{- with .grace }}
  terminationGracePeriodSeconds: {{ . }}
  {{- end }}
  {{- include "mp-webhooks.podSecurity" $root | trim | nindent 2 }}
  {{- with (include "mp-webhooks.scheduling" (dict "values" $v) | trim) }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- with $v.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "mp-webhooks.image" (dict "image" $root.Values.image "root" $root) }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      {{- include "mp-webhooks.command" . | trim | nindent 6 }}
      {{- include "mp-webhooks.env" (dict "root" $root "values" $v "secrets" .secrets "extra" .extraEnv) | nindent 6 }}
      {{- with .container }}
      {{- . | nindent 6 }}
      {{- end }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- include "mp-webhooks.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        {{- include "mp-webhooks.tmpVolumeMount" $root | nindent 8 }}
        {{- if include "mp-webhooks.redisCaPath" $root }}
        - name: redis-ca
          mountPath: /etc/mp-webhooks/redis-ca
          readOnly: true
        {{- end }}
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with $v.sidecars }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    {{- include "mp-webhooks.tmpVolume" $root | nindent 4 }}
    {{- if include "mp-webhooks.redisCaPath" $root }}
    {{- $ca := $root.Values.redis.external.caBundle }}
    - name: redis-ca
      {{- if $ca.secretName }}
      secret:
        secretName: {{ $ca.secretName }}
      {{- else }}
      configMap:
        name: {{ $ca.configMapName }}
      {{- end }}
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/* Egress rules shared by every component when egress is restricted: DNS, Redis (its
port from the values), and HTTPS (Mercado Pago, GoHighLevel, the Kubernetes API on 443). */}}
{{- define "mp-webhooks.egressRules" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- ports:
    - {port: {{ include "mp-webhooks.redisPort" . }}, protocol: TCP}
- ports:
    - {port: 443, protocol: TCP}
{{- with .Values.networkPolicy.egress.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The receiver's own container fields: its port, probes and the preStop pause. */}}
{{- define "mp-webhooks.receiverContainer" -}}
ports:
  - name: http
    containerPort: 8000
    protocol: TCP
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  # /readyz answers 503 while Redis does not: the pod leaves the Service and Mercado
  # Pago's requests go to a receiver that can store them.
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
lifecycle:
  # Endpoints and ingress controllers drop a terminating pod a moment after the kubelet
  # signals it; serving through that moment means no webhook meets a closed port.
  preStop:
    exec:
      command: [sleep, {{ .Values.receiver.preStopSleepSeconds | quote }}]
{{- end }}

{{/*
The worker's and scheduler's port and probes: liveness asks /livez, which answers 503
once the work loop has not beaten recently (a hung process is restarted); readiness and
start-up ask /healthz (the HTTP side is up).
*/}}
{{- define "mp-webhooks.metricsContainer" -}}
ports:
  - name: metrics
    containerPort: {{ .Values.metrics.port }}
    protocol: TCP
startupProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /livez
    port: metrics
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 4
readinessProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}

{{/* The components Prometheus scrapes, as a flow sequence: the bundled Redis too when
its exporter runs. */}}
{{- define "mp-webhooks.scrapedComponents" -}}
{{- $components := list "receiver" "worker" "scheduler" }}
{{- if .Values.console.enabled }}
{{- $components = append $components "console" }}
{{- end }}
{{- if and .Values.redis.enabled .Values.redis.metrics.enabled }}
{{- $components = append $components "redis" }}
{{- end }}
{{- printf "[%s]" (join ", " $components) }}
{{- end }}

{{/* The console's port and probes: alive is /healthz, ready is /readyz (Redis answers). */}}
{{- define "mp-webhooks.consoleContainer" -}}
ports:
  - name: http
    containerPort: 8080
    protocol: TCP
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}

{{/*
The key of a variable in the Secret: its own name, or the one secrets.existingSecretKeys
gives it in your existingSecret. Call with (dict "root" $ "name" "API_TOKEN").
*/}}
{{- define "mp-webhooks.secretKey" -}}
{{- $keys := .root.Values.secrets.existingSecretKeys }}
{{- ternary (get $keys .name) .name (and (not (empty .root.Values.secrets.existingSecret)) (hasKey $keys .name)) }}
{{- end }}

{{/*
A multi-window, multi-burn-rate alert expression (Google SRE workbook, ch. 5), shared by
the SLOs of files/prometheus-rules.yaml. Arguments (a dict):
  ratio    the recording rules' name without the window, e.g. mpwh:event_slo_errors:ratio_rate
  release  their `release` label (the fullname)
  budget   1 - the objective
  windows  list of [long, short, factor]: fires when both windows' error ratios exceed
           factor x budget (the branches are or-ed)
  count    the counter whose increase over the long window must reach `min` (the
           minimum-count guard, so a quiet shop is not paged for one error)
  min      that minimum
*/}}
{{- define "mp-webhooks.burnRateExpr" -}}
{{- range $i, $w := .windows }}
{{- if $i }}
or
{{ end -}}
(
  (
    {{ $.ratio }}{{ index $w 0 }}{release="{{ $.release }}"} > ({{ index $w 2 }} * {{ $.budget }})
    and
    {{ $.ratio }}{{ index $w 1 }}{release="{{ $.release }}"} > ({{ index $w 2 }} * {{ $.budget }})
  )
  and on (namespace)
  sum by (namespace) (increase({{ $.count }}[{{ index $w 0 }}])) >= {{ $.min }}
)
{{- end }}
{{- end }}

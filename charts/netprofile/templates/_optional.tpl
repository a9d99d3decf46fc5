{{/*
netprofile.wanted decides whether an object whose kind another project's CRD defines (the Prometheus Operator's
ServiceMonitor and PrometheusRule) is rendered: (dict "root" $ "value" <true|false|"auto"> "api"
<group/version/Kind>). It prints "true" or nothing.

- true renders it whatever the API list says. Offline renderers (helm template without --api-versions,
  kustomize helmCharts, CI pipelines) see only Kubernetes' built-in APIs, so a capability check there would drop
  the object without a word; the value is the user's decision, and on a cluster without the CRD the apply fails
  naming the missing kind, which is loud and says what to do.
- false never renders it.
- "auto" renders it only when the API list has the kind: right for `helm install` against a cluster that may
  lack the CRD (NOTES.txt says when it was skipped), wrong for offline renders. This is the only place the chart
  consults .Capabilities for an optional object.
*/}}
{{- define "netprofile.wanted" -}}
{{- if kindIs "string" .value }}
{{- if ne .value "auto" }}{{ fail (printf "%s: use true, false or auto, not %q" .api .value) }}{{ end }}
{{- if .root.Capabilities.APIVersions.Has .api }}true{{ end }}
{{- else if .value }}true
{{- end }}
{{- end }}

{{/*
netprofile.skipped is true when an "auto" object was left out because the cluster has no such API, for NOTES.txt.
*/}}
{{- define "netprofile.skipped" -}}
{{- if and (kindIs "string" .value) (not (include "netprofile.wanted" .)) }}true{{ end }}
{{- end }}

{{/*
netprofile.testSelectorLabels select the helm test Pod (for its CiliumNetworkPolicy): never the manager's.
*/}}
{{- define "netprofile.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "netprofile.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{/*
netprofile.testImage is the helm test image, repository:tag or repository@digest (the digest wins).
*/}}
{{- define "netprofile.testImage" -}}
{{- with .Values.tests.image }}
{{- if .digest }}{{ printf "%s@%s" .repository .digest }}{{ else }}{{ printf "%s:%s" .repository .tag }}{{ end }}
{{- end }}
{{- end }}

{{- define "netprofile.testContainerCommon" -}}
env:
  - name: HOME
    value: /home/kubectl
volumeMounts:
  - name: home
    mountPath: /home/kubectl
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

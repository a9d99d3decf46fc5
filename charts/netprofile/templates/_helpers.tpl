{{/*
netprofile.name is the chart name, overridable so a fork can rename every object.
*/}}
{{- define "netprofile.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
netprofile.fullname prefixes objects with the release name unless the release name already contains the chart
name (a release called "netprofile" gives "netprofile", not "netprofile-netprofile").
*/}}
{{- define "netprofile.fullname" -}}
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

{{/*
netprofile.managerPolicyName names the manager's own CiliumNetworkPolicy: the full name, unless that starts with
"netprofile-" (a release named netprofile-<x>), a prefix reserved for generated policies, which the
generated-policies admission policy keeps for netprofile's ServiceAccount and would refuse to Helm.
*/}}
{{- define "netprofile.managerPolicyName" -}}
{{- $name := include "netprofile.fullname" . }}
{{- if hasPrefix "netprofile-" $name }}
{{- printf "manager-%s" $name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name }}
{{- end }}
{{- end }}

{{- define "netprofile.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
netprofile.labels go on every object the chart creates. They never include the label netprofile's own
ownership checks use (app.kubernetes.io/managed-by: netprofile): Helm's objects are Helm's.
*/}}
{{- define "netprofile.labels" -}}
helm.sh/chart: {{ include "netprofile.chart" . }}
{{ include "netprofile.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: netprofile
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
netprofile.selectorLabels select the manager pods. They must never change across upgrades: a Deployment's
selector is immutable.
*/}}
{{- define "netprofile.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netprofile.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "netprofile.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "netprofile.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
netprofile.image is repository:tag, or repository@digest when a digest is pinned (the digest wins: it is what
actually runs).
*/}}
{{- define "netprofile.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
netprofile.platformNamespaces is the --platform-namespaces list: the configured namespaces plus netprofile's own,
whose policy is the chart's hand-written one (templates/manager-ciliumnetworkpolicy.yaml) and must not be
replaced by a profile.
*/}}
{{- define "netprofile.platformNamespaces" -}}
{{- $list := .Values.manager.platformNamespaces }}
{{- if .Values.manager.platformIncludesReleaseNamespace }}
{{- $list = append $list .Release.Namespace }}
{{- end }}
{{- $list | uniq | join "," }}
{{- end }}

{{/*
netprofile.seconds turns a threshold into seconds: an integer is seconds already; a string is a number with
one unit of s, m, h or d ("5m", "24h"). Prometheus compares the since-timestamp in seconds, so this is the
one place a duration is parsed.
*/}}
{{- define "netprofile.seconds" -}}
{{- $v := . }}
{{- if kindIs "string" $v }}
{{- $m := regexFindAll "^([0-9]+)([smhd])$" $v 1 }}
{{- if not $m }}{{ fail (printf "threshold %q: use seconds (300) or one number with a unit of s, m, h or d (5m, 24h)" $v) }}{{ end }}
{{- $n := regexFind "^[0-9]+" $v | int64 }}
{{- $unit := regexFind "[smhd]$" $v }}
{{- $mult := get (dict "s" 1 "m" 60 "h" 3600 "d" 86400) $unit }}
{{- mul $n $mult }}
{{- else }}
{{- int64 $v }}
{{- end }}
{{- end }}

{{/*
netprofile.humanDuration says a number of seconds in words for alert summaries ("5 minutes", "24 hours").
*/}}
{{- define "netprofile.humanDuration" -}}
{{- $s := int64 . }}
{{- if and (ge $s 3600) (eq (mod $s 3600) 0) }}
{{- $h := div $s 3600 }}{{ $h }} hour{{ if ne $h 1 }}s{{ end }}
{{- else if and (ge $s 60) (eq (mod $s 60) 0) }}
{{- $m := div $s 60 }}{{ $m }} minute{{ if ne $m 1 }}s{{ end }}
{{- else }}
{{- $s }} second{{ if ne $s 1 }}s{{ end }}
{{- end }}
{{- end }}

{{/*
netprofile.catalogueAnnotations keeps the catalogue on `helm uninstall` when asked: deleting a Baseline deletes
its cluster-wide policy (it owns it), which changes traffic for every namespace at once.
*/}}
{{- define "netprofile.catalogueAnnotations" -}}
{{- if .Values.catalogue.keepOnUninstall }}
annotations:
  helm.sh/resource-policy: keep
{{- end }}
{{- end }}

{{/*
netprofile.serviceAccountUser is the manager's user name as the API server sees it, for admission policies.
*/}}
{{- define "netprofile.serviceAccountUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "netprofile.serviceAccountName" . }}
{{- end }}

{{/*
netprofile.admissionBinding binds one admission policy: (dict "root" $ "name" <policy name> "actions"
<validationActions> "params" <bool>). With params, the policy reads the LabelContract named after the label
domain and denies while there is none (parameterNotFoundAction: Deny): the chart creates it, the manager
keeps it current, so it is missing only if someone deleted it, and then for seconds.
*/}}
{{- define "netprofile.admissionBinding" -}}
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{ .name }}
  labels:
    {{- include "netprofile.labels" .root | nindent 4 }}
spec:
  policyName: {{ .name }}
  validationActions: {{ toJson .actions }}
  {{- if .params }}
  paramRef:
    name: {{ .root.Values.manager.labelDomain }}
    parameterNotFoundAction: Deny
  {{- end }}
{{- end }}

{{/*
netprofile.breakGlass is a CEL condition: the request comes from a member of admission.breakGlassGroups.
*/}}
{{- define "netprofile.breakGlass" -}}
request.userInfo.groups.exists(g, g in {{ toJson .Values.admission.breakGlassGroups }})
{{- end }}

{{/*
netprofile.goDuration writes a threshold as Go prints a time.Duration ("5m0s", "24h0m0s", "0s"): what the manager
publishes in the LabelContract, so the chart's seed equals the manager's record and neither overwrites the other.
*/}}
{{- define "netprofile.goDuration" -}}
{{- $s := include "netprofile.seconds" . | int64 }}
{{- $h := div $s 3600 }}{{ $m := div (mod $s 3600) 60 }}{{ $sec := mod $s 60 }}
{{- if gt $h 0 }}{{ printf "%dh%dm%ds" $h $m $sec }}{{ else if gt $m 0 }}{{ printf "%dm%ds" $m $sec }}{{ else }}{{ printf "%ds" $sec }}{{ end }}
{{- end }}

{{/*
netprofile.labelsChanged is a matchCondition: the request changes a Namespace's labels (a create, any). The maps
are compared in Go, so a request that leaves them alone (an annotation, a finalizer) costs the label policies
nothing, however many labels the namespace has.
*/}}
{{- define "netprofile.labelsChanged" -}}
(has(object.metadata.labels) ? object.metadata.labels : {}) != (oldObject != null && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})
{{- end }}

{{/*
netprofile.labelBound is the first validation of a policy that walks a Namespace's labels. With CEL's cost
tracking, which kube-apiserver always turns on, such a walk takes time that grows with the square of the number
of labels while its cost units grow linearly, so the cost budget never stops it (hack/admissionbench
BenchmarkLabelWalk: 10 ms for 1000 labels, 170 ms for 4000). Above admission.maxNamespaceLabels nothing is
walked: a change of the labels is refused (fail closed: unjudged labels never pass), except one that only
removes labels, the way back under the bound. The policy's other validations start with `!variables.bounded ||`.
Needs the variables labels and oldLabels.
*/}}
{{- define "netprofile.labelBound" -}}
{{- $max := int .Values.admission.maxNamespaceLabels -}}
- expression: >-
    variables.bounded || variables.labels.size() < variables.oldLabels.size() &&
    variables.labels.all(k, k in variables.oldLabels && variables.oldLabels[k] == variables.labels[k])
  reason: Invalid
  messageExpression: >-
    'namespace ' + object.metadata.name + ' would have ' + string(variables.labels.size()) + ' labels: netprofile judges' +
    ' the labels of namespaces with at most {{ $max }}, and refuses any other change of them beyond that (removing' +
    ' labels is allowed); remove the labels this namespace does not need, or ask the platform team to raise' +
    ' admission.maxNamespaceLabels'
{{- end }}

{{/*
netprofile.labelBoundVariable defines variables.bounded for netprofile.labelBound.
*/}}
{{- define "netprofile.labelBoundVariable" -}}
- name: bounded
  expression: variables.labels.size() <= {{ int .Values.admission.maxNamespaceLabels }}
{{- end }}

{{/*
netprofile.protectedNamespaceLabels is the comma-separated list of Namespace label keys the manager may trust as
the platform's: admission.protectedNamespaceLabels.keys while the policy that protects them is installed, else
empty (a key nothing protects is any tenant's to write).
*/}}
{{- define "netprofile.protectedNamespaceLabels" -}}
{{- if .Values.admission.enabled }}{{ join "," .Values.admission.protectedNamespaceLabels.keys }}{{ end }}
{{- end }}

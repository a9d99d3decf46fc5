#!/usr/bin/env bash
# tools.sh builds the pinned tools netprofile needs (a real control plane for envtest and the e2e, plus
# controller-gen, helm, promtool and golangci-lint) from the Go module proxy into a cache outside the checkout,
# and prints the directory that holds them. Release-binary downloads (setup-envtest, GitHub releases) are not
# reachable here; the module proxy is. Every build is idempotent: a present, complete tool is a no-op.
#
# usage: hack/tools.sh <tool>...   tools: controlplane etcd kube controller-gen helm promtool golangci-lint krew
#                                  validate-krew-manifest all
#        hack/tools.sh assets      print the envtest asset directory (KUBEBUILDER_ASSETS), building it if needed
set -euo pipefail

K8S_VERSION=v1.36.3
K8S_STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.8
CONTROLLER_GEN_VERSION=v0.23.0
HELM_VERSION=v3.22.0
PROMTOOL_VERSION=v0.316.0
GOLANGCI_LINT_VERSION=v2.15.0
KREW_VERSION=v0.4.3

CACHE="${NETPROFILE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netprofile}"
mkdir -p "$CACHE"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0

log() { echo "hack/tools.sh: $*" >&2; }

# with_lock serialises builds of one tool across concurrent make invocations.
with_lock() {
  local name=$1; shift
  exec {fd}>"$CACHE/.$name.lock"
  flock "$fd"
  "$@"
  exec {fd}>&-
}

# wrapper_build builds packages from a throwaway module so the tool's own pins never touch netprofile's go.mod.
wrapper_mod() { # dir module-line...
  local dir=$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  printf '%s\n' "$@" >"$dir/go.mod"
}

build_kube() {
  local out="$CACHE/kube-$K8S_VERSION"
  [[ -x $out/kube-apiserver && -x $out/kube-controller-manager && -x $out/kubectl ]] && return 0
  log "building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION (cold: ~7 min)"
  local w="$CACHE/.build-kube"
  # k8s.io/kubernetes requires its staging modules at v0.0.0; map every one of them to the published tag.
  local modfile
  modfile=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  local replaces
  replaces=$(awk '/^require/,/^\)/' "$modfile" | awk '$2 == "v0.0.0" {printf "replace %s => %s '"$K8S_STAGING_VERSION"'\n", $1, $1}')
  wrapper_mod "$w" "module local/k8s-build" "go 1.26.0" "require k8s.io/kubernetes $K8S_VERSION" "$replaces" \
    "tool (" "  k8s.io/kubernetes/cmd/kube-apiserver" "  k8s.io/kubernetes/cmd/kube-controller-manager" "  k8s.io/kubernetes/cmd/kubectl" ")"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  local ld="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=36 -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$w/bin"
  (cd "$w" && go build -trimpath -ldflags "$ld" -o bin/ k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
  rm -rf "$out"; mv "$w/bin" "$out"; rm -rf "$w"
}

build_etcd() {
  local out="$CACHE/etcd-$ETCD_VERSION"
  [[ -x $out/etcd ]] && return 0
  log "building etcd $ETCD_VERSION (cold: ~1 min)"
  local w="$CACHE/.build-etcd"
  wrapper_mod "$w" "module local/etcd-build" "go 1.26.0" "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" "tool go.etcd.io/etcd/server/v3"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  mkdir -p "$w/bin"
  (cd "$w" && go build -trimpath -ldflags "-s -w" -o bin/etcd go.etcd.io/etcd/server/v3)
  rm -rf "$out"; mv "$w/bin" "$out"; rm -rf "$w"
}

# go_install installs a module's command at a pinned version into $CACHE/<name>-<version>/.
go_install() { # name version pkg [ldflags]
  local name=$1 version=$2 pkg=$3 ld=${4:-}
  local out="$CACHE/$name-$version"
  [[ -x $out/$name ]] && return 0
  log "building $name $version"
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w $ld" "$pkg@$version"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_controller_gen() { go_install controller-gen "$CONTROLLER_GEN_VERSION" sigs.k8s.io/controller-tools/cmd/controller-gen; }

# golangci-lint is built from source with the Go on the machine, which is also the Go it analyses the code with:
# a linter built with an older Go refuses (or misreads) code for a newer one.
build_golangci_lint() {
  go_install golangci-lint "$GOLANGCI_LINT_VERSION" github.com/golangci/golangci-lint/v2/cmd/golangci-lint \
    "-X main.version=${GOLANGCI_LINT_VERSION#v} -X main.commit=module-proxy -X main.date=1970-01-01T00:00:00Z"
}

# krew and krew's manifest validator (its index's CI check), for the plugin's dist test. go install, not a wrapper
# module: krew's go.mod pins client-go v11.0.0+incompatible, which only builds with krew's own pins.
build_krew() {
  go_install krew "$KREW_VERSION" sigs.k8s.io/krew/cmd/krew
  go_install validate-krew-manifest "$KREW_VERSION" sigs.k8s.io/krew/cmd/validate-krew-manifest
}

build_helm() {
  local ld="" p
  # Without these helm believes it talks to Kubernetes v1.20 in `helm template` and `helm lint`.
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=36"
  done
  go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$ld"
}

build_promtool() {
  local out="$CACHE/promtool-$PROMTOOL_VERSION"
  [[ -x $out/promtool ]] && return 0
  log "building promtool $PROMTOOL_VERSION"
  local w="$CACHE/.build-promtool"
  wrapper_mod "$w" "module local/promtool-build" "go 1.26.0" "require github.com/prometheus/prometheus $PROMTOOL_VERSION" "tool github.com/prometheus/prometheus/cmd/promtool"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  mkdir -p "$w/bin"
  (cd "$w" && go build -trimpath -ldflags "-s -w" -o bin/promtool github.com/prometheus/prometheus/cmd/promtool)
  rm -rf "$out"; mv "$w/bin" "$out"; rm -rf "$w"
}

# assets is the KUBEBUILDER_ASSETS directory: the file names envtest expects, linked to the pinned builds.
assets() {
  with_lock kube build_kube
  with_lock etcd build_etcd
  local dir="$CACHE/assets-$K8S_VERSION-etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  ln -sfn "$CACHE/kube-$K8S_VERSION/kube-apiserver" "$dir/kube-apiserver"
  ln -sfn "$CACHE/kube-$K8S_VERSION/kube-controller-manager" "$dir/kube-controller-manager"
  ln -sfn "$CACHE/kube-$K8S_VERSION/kubectl" "$dir/kubectl"
  ln -sfn "$CACHE/etcd-$ETCD_VERSION/etcd" "$dir/etcd"
  echo "$dir"
}

[[ $# -gt 0 ]] || { sed -n '2,9p' "$0"; exit 2; }
for t in "$@"; do
  case $t in
    kube) with_lock kube build_kube; echo "$CACHE/kube-$K8S_VERSION" ;;
    etcd) with_lock etcd build_etcd; echo "$CACHE/etcd-$ETCD_VERSION" ;;
    assets|controlplane) assets ;;
    controller-gen) with_lock controller-gen build_controller_gen; echo "$CACHE/controller-gen-$CONTROLLER_GEN_VERSION/controller-gen" ;;
    helm) with_lock helm build_helm; echo "$CACHE/helm-$HELM_VERSION/helm" ;;
    promtool) with_lock promtool build_promtool; echo "$CACHE/promtool-$PROMTOOL_VERSION/promtool" ;;
    golangci-lint) with_lock golangci-lint build_golangci_lint; echo "$CACHE/golangci-lint-$GOLANGCI_LINT_VERSION/golangci-lint" ;;
    krew) with_lock krew build_krew; echo "$CACHE/krew-$KREW_VERSION/krew" ;;
    validate-krew-manifest) with_lock krew build_krew; echo "$CACHE/validate-krew-manifest-$KREW_VERSION/validate-krew-manifest" ;;
    all) assets; "$0" controller-gen helm promtool golangci-lint krew ;;
    *) log "unknown tool $t"; exit 2 ;;
  esac
done

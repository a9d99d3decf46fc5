# netprofile: Namespace labels -> Cilium network policies.
# Tools (a real kube-apiserver/etcd/kube-controller-manager, controller-gen, helm, promtool) are built from the Go
# module proxy by hack/tools.sh into $(NETPROFILE_CACHE), outside the checkout, once per machine.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

export NETPROFILE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/netprofile
TOOLS := hack/tools.sh
CONTROLLER_GEN = $(shell $(TOOLS) controller-gen)
HELM = $(shell $(TOOLS) helm)
PROMTOOL = $(shell $(TOOLS) promtool)
GO_TEST_FLAGS ?=

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs and RBAC into config/.
	$(CONTROLLER_GEN) rbac:roleName=netprofile-manager crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: ## Generate deepcopy code.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: helm-sync
helm-sync: manifests ## Copy CRDs and RBAC from config/ into the chart.
	@mkdir -p charts/netprofile/crds
	cp config/crd/bases/*.yaml charts/netprofile/crds/

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: tools
tools: ## Build every pinned tool into the cache (a no-op when present).
	$(TOOLS) all >/dev/null

##@ Verification

.PHONY: verify
verify: ## Fail if generated files (CRDs, RBAC, deepcopy, chart copies) are stale.
	hack/verify-generated.sh

.PHONY: test
test: verify vet ## Run every test: unit, golden, fuzz seeds, envtest against the real control plane.
	KUBEBUILDER_ASSETS="$$($(TOOLS) assets)" go test ./... $(GO_TEST_FLAGS)

.PHONY: golden
golden: ## Rewrite the golden files of rendered policies.
	go test ./pkg/policy -update

.PHONY: fuzz
fuzz: ## Fuzz the renderer for a minute (make test runs the seed corpus).
	go test ./pkg/policy -run '^$$' -fuzz FuzzNamespace -fuzztime 60s

##@ Build

.PHONY: build
build: ## Build bin/manager.
	go build -o bin/manager ./cmd/manager

##@ Run

.PHONY: demo
demo: build ## Run netprofile on a local real control plane with sample namespaces (Ctrl-C stops it).
	$(TOOLS) assets >/dev/null
	go run ./hack/demo


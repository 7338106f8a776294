# Image built by docker-build and deployed by deploy; the manager gives it to the pods it creates too.
IMG ?= ghcr.io/streamreplay/streamreplay:dev
# Container tool: docker or podman.
CONTAINER_TOOL ?= docker
KUBECTL ?= kubectl
GO ?= go
# Packages of `make test`: all but the end-to-end suite, which `make test-e2e` runs on its own.
TEST_PKGS ?= $$($(GO) list ./... | grep -v /test/e2e)
# Extra `go test` flags, e.g. TEST_FLAGS=-race (off by default: slow on 2-core machines).
TEST_FLAGS ?=

# Where tools installed by this Makefile (golangci-lint) and the binary go.
LOCALBIN ?= $(CURDIR)/bin
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
# controller-gen is pinned in go.mod as a Go tool: no download, same version for everyone.
CONTROLLER_GEN ?= $(GO) tool controller-gen

# The envtest control-plane folder (KUBEBUILDER_ASSETS), written by the envtest target.
ENVTEST_ASSETS_FILE ?= $(LOCALBIN)/envtest-assets
# Read when a recipe runs, that is after the envtest prerequisite has written the file.
ENVTEST_ASSETS = $(shell cat $(ENVTEST_ASSETS_FILE) 2>/dev/null)
# Paths whose regenerated, formatted or tidied content must be committed (see verify):
# the generated code and manifests, the installer, every Go file (the root package's
# too), go.mod and go.sum.
VERIFY_PATHS ?= api cmd config controllers internal test dist go.mod go.sum $(wildcard *.go)
# In CI (a fresh clone) verify also requires the tree to match the commit, because
# `make test` has already regenerated before `make verify` runs.
VERIFY_AGAINST_HEAD ?= $(if $(filter true 1,$(CI)),true,false)

# Recipes run in bash with pipefail, so a failing command in a pipe fails the target.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD (config/crd/bases) and the manager ClusterRole (config/rbac/role.yaml).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: ## Generate DeepCopy methods (zz_generated.deepcopy.go).
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	$(GO) fmt ./...

.PHONY: tidy
tidy: ## Run go mod tidy (go.mod lists what the module imports, direct and indirect apart).
	$(GO) mod tidy

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: envtest
envtest: | $(LOCALBIN) ## Build the envtest kube-apiserver and etcd once (about 5 minutes) and record their folder.
	@assets="$$(bash hack/envtest-binaries.sh)"; \
	test -x "$$assets/kube-apiserver" -a -x "$$assets/etcd" || { echo "envtest: no binaries in '$$assets'" >&2; exit 1; }; \
	echo "$$assets" > $(ENVTEST_ASSETS_FILE); \
	echo "KUBEBUILDER_ASSETS=$$assets"

.PHONY: test
test: manifests generate fmt vet envtest ## Run the tests (unit, Kafka data plane, envtest control plane; not e2e).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test $(TEST_PKGS) -count=1 $(TEST_FLAGS)

.PHONY: test-e2e
test-e2e: ## Run the end-to-end tests (envtest API server + manager + local pod runner + embedded Kafka).
	@if [ ! -d test/e2e ]; then echo "test-e2e: ./test/e2e does not exist yet, nothing to run"; exit 0; fi; \
	$(MAKE) --no-print-directory envtest; \
	echo "KUBEBUILDER_ASSETS=$$(cat $(ENVTEST_ASSETS_FILE)) $(GO) test ./test/e2e/... -count=1 -timeout 30m"; \
	KUBEBUILDER_ASSETS="$$(cat $(ENVTEST_ASSETS_FILE))" $(GO) test ./test/e2e/... -count=1 -timeout 30m $(TEST_FLAGS)

# bench runs the Go benchmarks of every package but the worker, samples and observer, then
# hack/bench.sh: the worker's producer benchmarks against kfake next to kafka-go, franz-go and kcat,
# the sample-loading and the observer's consumption benchmarks, in one run (see the script). The script
# runs last so that its summary, `worker-vs-franz-go=... worker-vs-kafka-go=... worker-vs-kcat=...
# observer-vs-franz-go=... rate-error-max=...`, is the last line.
BENCH_PKGS ?= $$($(GO) list ./... | grep -v -e /internal/worker -e /internal/samples -e /internal/observer -e /test/e2e -e /test/scale)
# bench-scale is the controller at scale (test/scale): 1,000 LoadTests x 4 workers against
# envtest, healthy and with one LoadTest whose pods never answer; a few minutes on 2 cores.
.PHONY: bench-scale
bench-scale: envtest ## Benchmark the controller with 1,000 LoadTests; prints the figures and the manager's peak RSS.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -run '^$$' -bench ControllerScale -benchtime 1x -count=1 -timeout 30m -v ./test/scale/

.PHONY: bench
bench: envtest ## Run the benchmarks; the last line compares the worker and observer with their peers.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -run '^$$' -bench . -benchmem $(BENCH_PKGS)
	GO=$(GO) bash hack/bench.sh

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply its fixes.
	$(GOLANGCI_LINT) run --fix

.PHONY: lint-config
lint-config: golangci-lint ## Check .golangci.yml against golangci-lint's schema.
	$(GOLANGCI_LINT) config verify

.PHONY: verify
verify: ## Regenerate (manifests, generate, fmt, tidy) and fail if that changed or added files.
	@snapshot() { \
	  git ls-files -z --cached --others --exclude-standard -- $(VERIFY_PATHS) | \
	    while IFS= read -r -d '' f; do \
	      if [ -e "$$f" ]; then printf '%s  %s\n' "$$(git hash-object -- "$$f")" "$$f"; else printf 'deleted  %s\n' "$$f"; fi; \
	    done | sort -u; \
	}; \
	before="$$(snapshot)"; \
	$(MAKE) --no-print-directory manifests generate fmt tidy build-installer; \
	after="$$(snapshot)"; \
	changed="$$(diff <(echo "$$before") <(echo "$$after") | sed -n 's/^[<>] [^ ]*  //p' | sort -u || true)"; \
	if [ -n "$$changed" ]; then \
	  echo "verify: regenerating changed these files; run 'make manifests generate fmt tidy build-installer' and commit the result:" >&2; \
	  echo "$$changed" | sed 's/^/  /' >&2; exit 1; \
	fi; \
	if [ "$(VERIFY_AGAINST_HEAD)" = true ]; then \
	  dirty="$$(git status --porcelain --untracked-files=all -- $(VERIFY_PATHS))"; \
	  if [ -n "$$dirty" ]; then \
	    echo "verify: these files differ from the commit (stale generated code or unformatted Go?):" >&2; \
	    echo "$$dirty" | sed 's/^/  /' >&2; git --no-pager diff --stat -- $(VERIFY_PATHS) >&2; exit 1; \
	  fi; \
	fi; \
	echo "verify: generated files, formatting, go.mod and go.sum are up to date"

##@ Sandbox

# Extra flags of `streamreplay-sandbox`, e.g. DEMO_FLAGS=--keep to use kubectl afterwards.
DEMO_FLAGS ?=

.PHONY: demo
demo: build envtest ## Run the whole system on this machine with the CRM demo LoadTest; exits 0 on Pass.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(LOCALBIN)/streamreplay-sandbox --pod-binary=$(LOCALBIN)/streamreplay $(DEMO_FLAGS)

.PHONY: demo-fail
demo-fail: build envtest ## The same against a pipeline capped at 300 records/s: ends in Fail naming the thresholds.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(LOCALBIN)/streamreplay-sandbox --pod-binary=$(LOCALBIN)/streamreplay --fail $(DEMO_FLAGS)

.PHONY: report-screenshot
report-screenshot: build envtest ## Regenerate docs/report.png: a sandbox demo run's `kubectl streamreplay report` in headless Chromium (DEMO=fail for the capped pipeline).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/report-screenshot.sh

.PHONY: demo-capacity
demo-capacity: build envtest ## Search for the capacity of the pipeline capped at 300 records/s, probe by probe; exits 0 on Pass.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(LOCALBIN)/streamreplay-sandbox --pod-binary=$(LOCALBIN)/streamreplay --capacity $(DEMO_FLAGS)

##@ Real node (root)

# The one-node cluster of hack/realnode: a real kubelet, containerd and the real image.
# Its folder, and where `make image` writes the OCI archives the node imports.
REALNODE_DIR ?= /tmp/streamreplay-node
IMAGES_DIR ?= $(LOCALBIN)/images
# KEEP=1 keeps the cluster of test-cluster up for kubectl (make node-down takes it down).
KEEP ?= 0

.PHONY: image
image: | $(LOCALBIN) ## Build the images without Docker (hack/image): streamreplay as the Dockerfile does, the test kit, pause.
	$(GO) -C hack/image test ./... -count=1
	$(GO) -C hack/image build -o $(LOCALBIN)/hack-image .
	$(LOCALBIN)/hack-image -dockerfile Dockerfile -context . -name localhost/streamreplay:realnode -out $(IMAGES_DIR)/streamreplay.tar
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(LOCALBIN)/testkit ./test/cluster/testkit
	$(LOCALBIN)/hack-image -file $(LOCALBIN)/testkit:/testkit -entrypoint '["/testkit"]' -name localhost/streamreplay-testkit:realnode -out $(IMAGES_DIR)/testkit.tar
	CGO_ENABLED=0 $(GO) -C hack/image build -trimpath -ldflags="-s -w" -o $(LOCALBIN)/pause ./pause
	$(LOCALBIN)/hack-image -file $(LOCALBIN)/pause:/pause -entrypoint '["/pause"]' -name localhost/pause:local -out $(IMAGES_DIR)/pause.tar

.PHONY: node-binaries
node-binaries: ## Build the node's kubelet, controller manager, scheduler, kube-proxy, CoreDNS, crictl (12-15 min cold, once).
	bash hack/realnode/build.sh

.PHONY: node-up
node-up: envtest node-binaries image ## Bring the one-node cluster up (root; Debian packages installed when missing).
	bash hack/realnode/deps.sh
	REALNODE_DIR=$(REALNODE_DIR) REALNODE_IMAGES=$(IMAGES_DIR) KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" bash hack/realnode/up.sh

.PHONY: node-down
node-down: ## Tear the one-node cluster down: every process, mount, cgroup, bridge and iptables rule (root).
	REALNODE_DIR=$(REALNODE_DIR) bash hack/realnode/down.sh

.PHONY: test-cluster
test-cluster: envtest image helm ## The end-to-end scenarios on the real node (root, about 20 min warm); KEEP=1 keeps the cluster.
	REALNODE_DIR=$(REALNODE_DIR) REALNODE_IMAGES=$(IMAGES_DIR) KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" KEEP=$(KEEP) \
	  GO=$(GO) TEST_FLAGS="$(TEST_FLAGS)" bash hack/realnode/test-cluster.sh

.PHONY: test-cluster-sandbox
test-cluster-sandbox: envtest ## The same scenarios on the sandbox (envtest and the local pod runner; no root).
	STREAMREPLAY_CLUSTER=sandbox KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test ./test/cluster/ -run TestScenarios -count=1 -v -timeout 60m $(TEST_FLAGS)

##@ Build

.PHONY: build
build: manifests generate fmt vet | $(LOCALBIN) ## Build bin/streamreplay (the product), the kubectl plugin bin/kubectl-streamreplay and bin/streamreplay-sandbox (make demo).
	CGO_ENABLED=0 $(GO) build -trimpath -o $(LOCALBIN)/streamreplay .
	CGO_ENABLED=0 $(GO) build -trimpath -o $(LOCALBIN)/kubectl-streamreplay ./cmd/kubectl-streamreplay
	CGO_ENABLED=0 $(GO) build -trimpath -o $(LOCALBIN)/streamreplay-sandbox ./cmd/streamreplay-sandbox

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the current kubeconfig (pods it creates use IMG).
	$(GO) run . manager --pod-image=$(IMG)

.PHONY: docker-build
docker-build: ## Build the container image IMG.
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image IMG.
	$(CONTAINER_TOOL) push $(IMG)

##@ Deployment

ignore-not-found ?= false

# Server-side apply: the CRD with its CEL rules is too large for the last-applied annotation.
.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs (and every LoadTest with them). ignore-not-found=true to ignore absent ones.
	$(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -k config/crd

# config/ is copied to a temporary folder and the image set in its manager kustomization,
# as `kustomize edit set image` would (no kustomize binary needed, tracked files untouched);
# config/default then copies that image into STREAMREPLAY_POD_IMAGE.
.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG to the cluster of the current kubeconfig.
	@$(MAKE) --no-print-directory render-default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator (CRDs included). ignore-not-found=true to ignore absent objects.
	$(KUBECTL) kustomize config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy-namespaced
deploy-namespaced: manifests ## Deploy the operator for one namespace (config/namespaced: Role, not ClusterRole) with image IMG.
	@$(MAKE) --no-print-directory render-namespaced | $(KUBECTL) apply --server-side -f -

.PHONY: render-namespaced
render-namespaced: ## Print config/namespaced with image IMG (what deploy-namespaced applies).
	@$(MAKE) --no-print-directory render-default RENDER_DIR=namespaced

# The kustomization render-default prints: default, or namespaced.
RENDER_DIR ?= default

.PHONY: render-default
render-default: ## Print config/default with image IMG (what deploy applies).
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	cp -R config "$$tmp/config"; \
	img='$(IMG)'; name="$$img"; tag=""; digest=""; \
	case "$$img" in *@*) digest="$${img#*@}"; name="$${img%%@*}";; esac; \
	last="$${name##*/}"; \
	case "$$last" in *:*) tag="$${last##*:}"; name="$${name%:*}";; esac; \
	{ echo "images:"; echo "- name: controller"; echo "  newName: $$name"; \
	  if [ -n "$$digest" ]; then echo "  digest: $$digest"; elif [ -n "$$tag" ]; then echo "  newTag: $$tag"; fi; \
	} >> "$$tmp/config/manager/kustomization.yaml"; \
	$(KUBECTL) kustomize "$$tmp/config/$(RENDER_DIR)"

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: golangci-lint
golangci-lint: | $(LOCALBIN) ## Install the pinned golangci-lint into ./bin when absent or of another version.
	@if [ "$$($(GOLANGCI_LINT) version --short 2>/dev/null)" != "$(GOLANGCI_LINT_VERSION:v%=%)" ]; then \
	  echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(LOCALBIN) (a few minutes)"; \
	  GOBIN=$(LOCALBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

##@ Install file

# dist/install.yaml is config/default rendered with image IMG (render-default): the CRD and
# the operator in one file, kubebuilder's build-installer convention. The committed file
# uses the default IMG; `make verify` regenerates it and fails when it is stale.
INSTALLER ?= dist/install.yaml

.PHONY: build-installer
build-installer: manifests chart-files ## Write dist/install.yaml: the CRD and the operator with image IMG, in one file.
	@mkdir -p $(dir $(INSTALLER))
	@{ echo "# streamreplay: the LoadTest CRD and the operator (namespace streamreplay-system), image $(IMG)."; \
	  echo "# Generated by 'make build-installer' from config/default; do not edit."; \
	  echo "# Install: kubectl apply --server-side -f install.yaml"; \
	  $(MAKE) --no-print-directory render-default; } > $(INSTALLER).tmp
	@mv $(INSTALLER).tmp $(INSTALLER)

##@ Helm chart

# dist/chart installs what config/default installs (watchNamespace: config/namespaced).
# Its CRD (crds/), the rules of its roles and its alerts are copies of config/'s, written
# by chart-files (run by build-installer, so `make verify` fails when they are stale);
# test/config/helm_test.go compares the rendered chart with config/.
CHART_DIR ?= dist/chart
# helm is built by hack/helm.sh from the Go module pinned in hack/helm/go.mod (not the
# main go.mod) into ~/.cache/streamreplay/helm/<version>, once.

.PHONY: chart-files
chart-files: manifests ## Copy the CRD, the RBAC rules and the alerts of config/ into dist/chart.
	@mkdir -p $(CHART_DIR)/crds $(CHART_DIR)/files/rbac
	@cp config/crd/bases/streamreplay.io_loadtests.yaml $(CHART_DIR)/crds/
	@cp config/rbac/role.yaml config/rbac/leader_election_role.yaml config/rbac/metrics_auth_role.yaml \
	  config/rbac/metrics_reader_role.yaml config/rbac/loadtest_editor_role.yaml config/rbac/loadtest_viewer_role.yaml \
	  $(CHART_DIR)/files/rbac/
	@cp config/prometheus/alerts.yaml $(CHART_DIR)/files/alerts.yaml

.PHONY: helm
helm: ## Build the pinned helm CLI from the Go module proxy (about 3 minutes, once) and print its path.
	@GO=$(GO) bash hack/helm.sh

.PHONY: test-chart
test-chart: helm chart-files envtest ## helm lint and helm template (default, namespaced, every option), then the chart's tests against config/ and envtest.
	@helm="$$(GO=$(GO) bash hack/helm.sh)"; set -x; \
	"$$helm" lint --strict $(CHART_DIR); \
	"$$helm" lint --strict $(CHART_DIR) --set watchNamespace=loadtests; \
	"$$helm" template streamreplay $(CHART_DIR) -n streamreplay-system > /dev/null; \
	"$$helm" template streamreplay $(CHART_DIR) -n streamreplay-system --set watchNamespace=loadtests > /dev/null; \
	"$$helm" template streamreplay $(CHART_DIR) -n streamreplay-system --set prometheus.serviceMonitor.enabled=true \
	  --set prometheus.podMonitor.enabled=true --set prometheus.rules.enabled=true --set metrics.certSecret=certs > /dev/null
	STREAMREPLAY_HELM="$$(GO=$(GO) bash hack/helm.sh)" KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" \
	  $(GO) test ./test/config/ -run 'Helm|Chart' -count=1 $(TEST_FLAGS)

##@ Release

# make release VERSION=v1.2.3: the manager and the kubectl plugin for linux/amd64 and
# linux/arm64 (static, CGO_ENABLED=0), the chart package and the install file, with the
# version stamped (--version), and SHA-256 checksums, into $(RELEASE_DIR) (not committed).
# The image is IMG_REPO:VERSION; the chart's appVersion and the install file name it.
VERSION ?= v0.0.0-dev
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
RELEASE_DIR ?= $(LOCALBIN)/release
IMG_REPO ?= ghcr.io/streamreplay/streamreplay
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
VERSION_LDFLAGS = -s -w -X github.com/streamreplay/streamreplay/internal/version.Version=$(VERSION) \
	-X github.com/streamreplay/streamreplay/internal/version.Commit=$(COMMIT)

.PHONY: release
release: manifests chart-files ## Build the release into bin/release: binaries, chart package, install file, checksums (VERSION=v1.2.3).
	@case '$(VERSION)' in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "release: VERSION=$(VERSION) is not vMAJOR.MINOR.PATCH" >&2; exit 1;; esac
	rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	@for platform in $(RELEASE_PLATFORMS); do \
	  os="$${platform%/*}"; arch="$${platform#*/}"; \
	  echo "release: $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags="$(VERSION_LDFLAGS)" \
	    -o $(RELEASE_DIR)/streamreplay-$(VERSION)-$$os-$$arch . ; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags="$(VERSION_LDFLAGS)" \
	    -o $(RELEASE_DIR)/kubectl-streamreplay-$(VERSION)-$$os-$$arch ./cmd/kubectl-streamreplay; \
	done
	@host="$(RELEASE_DIR)/streamreplay-$(VERSION)-$$($(GO) env GOOS)-$$($(GO) env GOARCH)"; \
	if [ -x "$$host" ]; then "$$host" --version | grep -F ' $(VERSION) ' || { echo "release: $$host does not print $(VERSION)" >&2; exit 1; }; fi
	$(MAKE) --no-print-directory build-installer IMG=$(IMG_REPO):$(VERSION) INSTALLER=$(RELEASE_DIR)/install.yaml
	helm="$$(GO=$(GO) bash hack/helm.sh)"; \
	"$$helm" lint --strict $(CHART_DIR); \
	"$$helm" package $(CHART_DIR) --version "$(VERSION:v%=%)" --app-version "$(VERSION)" -d $(RELEASE_DIR)
	cd $(RELEASE_DIR) && sha256sum -- * > checksums.txt && cat checksums.txt

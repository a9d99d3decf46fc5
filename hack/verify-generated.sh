#!/usr/bin/env bash
# verify-generated.sh fails when a generated file is stale: it fingerprints every generated file, runs the
# generators, and compares. It does not depend on git state, so it works in a clean clone (CI) and in a
# working tree with uncommitted changes alike; on failure the files are left regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."

generated() {
  { find api pkg/ciliumpolicy config/crd config/rbac config/prometheus charts/netprofile/crds charts/netprofile/files -type f \
      \( -name 'zz_generated*.go' -o -name '*.yaml' -o -name '*.json' \) 2>/dev/null
    # A deleted copy fingerprints as missing, so it counts as stale too.
    echo charts/netprofile/LICENSE
  } | sort || true
}
fingerprint() { generated | while read -r f; do sha256sum "$f" 2>/dev/null || echo "absent  $f"; done; }

before=$(fingerprint)
make --no-print-directory -s generate manifests helm-sync >/dev/null
after=$(fingerprint)
if [[ "$before" != "$after" ]]; then
  echo "Generated files were stale (now regenerated; review and commit them):" >&2
  diff <(echo "$before") <(echo "$after") | sed -n 's/^[<>] [0-9a-z]*  //p' | sort -u >&2
  exit 1
fi
echo "generated files are up to date"

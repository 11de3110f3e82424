#!/usr/bin/env bash
# Validates deploy/kubernetes/*.yaml offline against the Kubernetes JSON schemas bundled in
# the kubernetes-validate package (make installs it into .build/kubernetes-validate), in
# strict mode (unknown fields are errors), for the oldest and newest Kubernetes versions the
# manifests are meant for. Proves first that the validator can fail: a copy of each manifest
# with a misspelled field must be rejected. Without network (unshare -n, when root).
#
#   scripts/validate-manifests.sh KUBERNETES_VALIDATE
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kv=${1:?usage: validate-manifests.sh PATH/TO/kubernetes-validate}
versions=(1.29.0 1.37.0)
offline=()
if [ "$(id -u)" = 0 ] && unshare -n true 2> /dev/null; then offline=(unshare -n); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 n=0
for f in "$top"/deploy/kubernetes/*.yaml; do
  for v in "${versions[@]}"; do
    n=$((n + 1))
    if ! "${offline[@]}" "$kv" --strict --quiet -k "$v" "$f"; then
      echo "validate-manifests: FAIL ${f#"$top"/} against Kubernetes $v" >&2
      failed=1
    fi
  done
  # The validator must be able to say no: a misspelled securityContext field.
  broken=$tmp/$(basename "$f")
  sed 's/readOnlyRootFilesystem:/readOnlyRootFilesytem:/' "$f" > "$broken"
  cmp -s "$f" "$broken" && { echo "validate-manifests: FAIL ${f#"$top"/} has no readOnlyRootFilesystem to break" >&2; failed=1; }
  if "${offline[@]}" "$kv" --strict --quiet -k "${versions[-1]}" "$broken" > "$tmp/out" 2>&1; then
    echo "validate-manifests: FAIL a misspelled field in ${f#"$top"/} was not rejected: the validator does not work" >&2
    failed=1
  elif ! grep -q "readOnlyRootFilesytem" "$tmp/out"; then
    echo "validate-manifests: FAIL the broken copy of ${f#"$top"/} failed for another reason: $(head -c 300 "$tmp/out")" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "validate-manifests: $n validations passed (${versions[*]}, strict$([ ${#offline[@]} -gt 0 ] && echo ", offline")); the broken copies were rejected"

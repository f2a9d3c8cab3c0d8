#!/usr/bin/env bash
# Builds the controller-runtime peer of the benchmark (scripts/bench/peer) into the same cache as
# the control plane and prints the binary's path. A second run with the same sources reuses it.
set -euo pipefail
what=peer
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../build/go.sh"
out="$cache_root/peer/$(cache_key "$here"/go.mod "$here"/go.sum "$here"/*.go "$0")"
go_build_into "$out" "$here" -ldflags "-s -w" -o "{}/peer" .
echo "$out/peer"

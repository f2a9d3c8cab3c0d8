# Sourced by the scripts that build Go programs into the cache outside the work tree (the control
# plane, helm, kwok, stern, the benchmark's peer): where the cache is, its key, and one way to build
# into it so that a build that stops halfway leaves nothing a later run would take for finished.
# The caller sets `what` (for messages) before sourcing.

cache_root="${PODLOGREADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podlogreader}"

log() { echo "build-$what: $*" >&2; }

need_go() {
  command -v go >/dev/null || { log "the Go toolchain is needed to build $what (go not on PATH)"; exit 1; }
}

# cache_key FILE...: 12 hex digits of the files' sha256. Give the pins (go.mod, go.sum), any
# source of our own, and the recipe, so that a change to any of them builds anew.
cache_key() {
  cat "$@" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12
}

# go_build_into OUT MODULE_DIR -- GO_BUILD_ARGS...: unless OUT is complete, runs each
# `go build ARGS` given (separated by --) in MODULE_DIR with its output in a temporary folder,
# then moves that folder to OUT. `{}` in the arguments stands for the temporary folder.
go_build_into() {
  local out=$1 module=$2
  shift 2
  [[ -e "$out/.complete" ]] && return 0
  need_go
  log "building into $out"
  local start=$SECONDS parent tmp
  parent=$(dirname "$out")
  mkdir -p "$parent"
  tmp=$(mktemp -d "$parent/.build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  local args=()
  for arg in "$@" --; do
    if [[ "$arg" == -- ]]; then
      if ((${#args[@]})); then
        (cd "$module" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath" go build "${args[@]}")
      fi
      args=()
    else
      args+=("${arg//\{\}/$tmp}")
    fi
  done
  touch "$tmp/.complete"
  rm -rf "$out"
  mv "$tmp" "$out"
  trap - EXIT
  log "built in $((SECONDS - start))s"
}

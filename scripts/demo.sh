#!/usr/bin/env bash
# `make demo`: podlogreader on a local control plane, shown step by step. Starts its own
# cluster in a temporary directory and removes everything it started when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

bun=node_modules/.bin/bun
dir=$(mktemp -d "${TMPDIR:-/tmp}/podlogreader-demo.XXXXXX")
controller_pid=""
follow_pid=""
cleanup() {
  [[ -n "$follow_pid" ]] && kill -TERM "$follow_pid" 2>/dev/null && wait "$follow_pid" 2>/dev/null || true
  [[ -n "$controller_pid" ]] && kill -TERM "$controller_pid" 2>/dev/null && wait "$controller_pid" 2>/dev/null || true
  PODLOGREADER_CLUSTER_DIR="$dir/cluster" "$bun" scripts/cluster.ts down >/dev/null || true
  rm -rf "$dir"
  echo "==> Cleaned up: controller stopped, local cluster stopped and its data removed."
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Starting a local cluster (etcd, kube-apiserver with RBAC, kube-controller-manager, kube-scheduler, one node simulated by kwok)"
PODLOGREADER_CLUSTER_DIR="$dir/cluster" "$bun" scripts/cluster.ts up
# shellcheck disable=SC1091
source "$dir/cluster/env"
kubectl version

step "Running dist/podlogreader --create-sa-and-rolebinding, with the default --pod-visibility=own (its log: $dir/podlogreader.log)"
dist/podlogreader --create-sa-and-rolebinding >"$dir/podlogreader.log" 2>&1 &
controller_pid=$!

step "A namespace with two Deployments: 'web' opts in through its pod template, 'other' does not"
show kubectl create namespace demo
cat <<YAML | kubectl apply -f -
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, podlogreader-affiliate: enable}}
    spec: {containers: [{name: app, image: registry.invalid/web:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: app, image: registry.invalid/other:1}]}
YAML

wait_for() { # wait_for DESCRIPTION COMMAND...: retry for up to 60 s
  local what=$1; shift
  for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out waiting for $what" >&2; exit 1
}
role_pods() { kubectl -n demo get role podlogreader-web -o jsonpath='{.rules[0].resourceNames}' 2>/dev/null; }
pod_count() { kubectl -n demo get pods -l "app=$1" --no-headers 2>/dev/null | wc -l; }
wait_for "2 running web pods" bash -c "[[ \$(kubectl -n demo get pods -l app=web --field-selector=status.phase=Running --no-headers | wc -l) == 2 ]]"
wait_for "1 running other pod" bash -c "[[ \$(kubectl -n demo get pods -l app=other --field-selector=status.phase=Running --no-headers | wc -l) == 1 ]]"
wait_for "the Role to list both pods" bash -c "kubectl -n demo get role podlogreader-web -o jsonpath='{.rules[0].resourceNames}' | grep -o web- | wc -l | grep -qx 2"
wait_for "the RoleBinding" kubectl -n demo get rolebinding podlogreader-web

show kubectl -n demo get pods -o wide

step "Giving each pod log lines (CRI log files that the simulated kubelet serves)"
pod_log() { PODLOGREADER_CLUSTER_DIR="$dir/cluster" "$bun" scripts/cluster.ts pod-log demo "$@"; }
for pod in $(kubectl -n demo get pods -l app=web -o jsonpath='{.items[*].metadata.name}'); do
  pod_log "$pod" "$pod: listening on :8080" "$pod: GET /healthz 200" "$pod: GET /api/orders 200"
done
other_pod=$(kubectl -n demo get pods -l app=other -o jsonpath='{.items[0].metadata.name}')
pod_log "$other_pod" "$other_pod: charging card 4242-4242 (another team's private line)"
step "The Role podlogreader keeps for 'web'"
show kubectl -n demo get role podlogreader-web -o yaml

step "Acting as the ServiceAccount podlogreader-web, with a real token from the TokenRequest API"
token=$(kubectl -n demo create token podlogreader-web --duration 10m)
sa_config="$dir/podlogreader-web.kubeconfig"
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
kubectl config --kubeconfig "$sa_config" set-cluster local --server "$server" --certificate-authority "$dir/cluster/pki/ca.crt" --embed-certs >/dev/null
kubectl config --kubeconfig "$sa_config" set-credentials podlogreader-web --token "$token" >/dev/null
kubectl config --kubeconfig "$sa_config" set-context sa --cluster local --user podlogreader-web --namespace demo >/dev/null
kubectl config --kubeconfig "$sa_config" use-context sa >/dev/null
as_sa() { kubectl --kubeconfig "$sa_config" "$@"; }

web_pod=$(kubectl -n demo get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
can_i() { printf '%-48s %s\n' "get pods/$1 --subresource=log:" "$(as_sa auth can-i get "pods/$1" --subresource=log || true)"; }
can_i "$web_pod"
can_i "$other_pod"
echo
echo "kubectl logs as the ServiceAccount: a web pod's lines are printed; the other Deployment's pod"
echo "is Forbidden and none of its lines are:"
sa_logs() {
  printf '$ kubectl logs %s\n' "$*"
  set +e
  as_sa logs "$@" 2>&1 | sed 's/^/  /'
  local status=${PIPESTATUS[0]}
  set -e
  echo "  (exit code $status)"
}
# kwok picks up a new log file within moments; wait until the first read prints it.
wait_for "the web pod's log lines" bash -c "kubectl --kubeconfig '$sa_config' logs '$web_pod' | grep -q healthz"
sa_logs "$web_pod"
sa_logs "$other_pod"

step "podlogreader logs -f deploy/web, as the ServiceAccount, while 'web' scales to 4: it follows the Role"
printf '$ podlogreader logs -f deploy/web --kubeconfig %s\n' "$sa_config"
dist/podlogreader logs -f deploy/web --kubeconfig "$sa_config" >"$dir/follow.out" 2>"$dir/follow.err" &
follow_pid=$!
wait_for "podlogreader logs to print both pods" bash -c "[[ \$(grep -o '^\[pod/[^/]*' '$dir/follow.out' | sort -u | wc -l) -ge 2 ]]"
show kubectl -n demo scale deployment web --replicas 4
wait_for "the Role to list 4 pods" bash -c "kubectl -n demo get role podlogreader-web -o jsonpath='{.rules[0].resourceNames}' | grep -o web- | wc -l | grep -qx 4"
wait_for "4 running web pods" bash -c "[[ \$(kubectl -n demo get pods -l app=web --field-selector=status.phase=Running --no-headers | wc -l) == 4 ]]"
for pod in $(kubectl -n demo get pods -l app=web -o jsonpath='{.items[*].metadata.name}'); do
  grep -q "$pod" "$dir/follow.out" || pod_log "$pod" "$pod: listening on :8080" "$pod: GET /healthz 200"
done
wait_for "podlogreader logs to print all 4 pods" bash -c "[[ \$(grep -o '^\[pod/[^/]*' '$dir/follow.out' | sort -u | wc -l) -ge 4 ]]"
kill -TERM "$follow_pid"; wait "$follow_pid" 2>/dev/null || true; follow_pid=""
sed 's/^/  /' "$dir/follow.out"
sed 's/^/  (stderr) /' "$dir/follow.err"
echo "Role resourceNames: $(role_pods)"
for pod in $(kubectl -n demo get pods -l app=web -o jsonpath='{.items[*].metadata.name}'); do can_i "$pod"; done

echo
echo "In own mode kubectl logs deploy/, -l and stern are refused, because they list pods by label;"
echo "--pod-visibility=namespace adds that list (and with it every pod's spec and termination message):"
sa_logs deploy/web

step "Scaling 'web' to 0: no rule names pods any more, so nothing is readable"
show kubectl -n demo scale deployment web --replicas 0
wait_for "the Role to drop its pod rule" bash -c "! kubectl -n demo get role podlogreader-web -o jsonpath='{.rules[*].resources}' | grep -q pods/log"
show kubectl -n demo get role podlogreader-web -o jsonpath='{range .rules[*]}{.verbs} {.resources} {.resourceNames}{"\n"}{end}'
can_i "$web_pod"

step "What the controller logged"
cat "$dir/podlogreader.log"

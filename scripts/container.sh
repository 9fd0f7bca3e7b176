#!/usr/bin/env bash
# Build and run ganforge's serving image with docker or podman, also where no registry image can
# be pulled (a local Debian base made with debootstrap) and no Docker daemon runs (podman).
#
#   scripts/container.sh base                     make the local base image (root, debootstrap)
#   scripts/container.sh build [--base IMAGE]     build the image (IMAGE: default python:3.11-slim
#                                                 where it can be pulled, else the local base)
#   scripts/container.sh run PROJECT [--port N]   serve PROJECT's trained runs, mounted read-only
#   scripts/container.sh stop                     stop it (SIGTERM, then its exit status)
#   scripts/container.sh smoke PROJECT            build if needed, run, call /health, /models and
#                                                 /generate, stop; one line per check
#
# Environment: ENGINE (docker or podman; default: docker where a daemon answers, else podman),
# IMAGE (ganforge:latest), NAME (the container's name, ganforge), TORCH_INDEX (PyTorch's wheel
# index, passed to the build), TORCH_WHEELS (a folder holding a PyTorch wheel to install
# instead; default: /opt/wheels where it holds one and TORCH_INDEX is unset), PIP_CERT (a CA
# bundle for pip's downloads during the build; default: the host pip's global.cert).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-ganforge:latest}"
NAME="${NAME:-ganforge}"
LOCAL_BASE="localhost/ganforge-base:bookworm"
PUBLIC_BASE="python:3.11-slim"

die() { echo "error: $*" >&2; exit 2; }

engine() {
    if [ -n "${ENGINE:-}" ]; then
        case "$ENGINE" in docker|podman) ;; *) die "ENGINE must be docker or podman, got '$ENGINE'";; esac
        command -v "$ENGINE" >/dev/null || die "ENGINE=$ENGINE but there is no $ENGINE command here"
        echo "$ENGINE"
    elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        echo docker
    elif command -v podman >/dev/null; then
        echo podman
    else
        die "neither a Docker daemon nor podman here: install docker, or podman and runc (Debian: apt-get install podman runc debootstrap)"
    fi
}

has_image() { "$(engine)" image exists "$1" 2>/dev/null || "$(engine)" image inspect "$1" >/dev/null 2>&1; }

# Options that run a container on this kind of machine: podman's default runtime (crun) refuses
# hybrid cgroups and its default rlimits are refused, so runc, host networking and set limits.
run_options() {
    if [ "$(engine)" = podman ]; then
        echo "--runtime runc --network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
    fi
}

valid_image_name() {
    # [registry[:port]/]path[:tag][@digest], lower-case path components as the registries require.
    [[ "$1" =~ ^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$ ]]
}

cmd_base() {
    local e; e="$(engine)"
    if has_image "$LOCAL_BASE"; then echo "$LOCAL_BASE is already here"; return; fi
    command -v debootstrap >/dev/null || die "no debootstrap here (Debian: apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root to make the local base"
    local root; root="$(mktemp -d)"
    trap 'rm -rf "$root"' RETURN
    echo "== debootstrap --variant=minbase bookworm (Debian's archive, about a minute)"
    debootstrap --variant=minbase bookworm "$root" >/dev/null || die "debootstrap failed (is Debian's package archive reachable?)"
    tar -C "$root" -c . | "$e" import - "$LOCAL_BASE" >/dev/null
    echo "made $LOCAL_BASE"
}

cmd_build() {
    local base="" given=0 e; e="$(engine)"
    while [ $# -gt 0 ]; do
        case "$1" in
            --base) [ $# -ge 2 ] || die "--base needs an image name"; base="$2"; given=1; shift 2;;
            --base=*) base="${1#--base=}"; given=1; shift;;
            *) die "unknown option for build: $1";;
        esac
    done
    if [ "$given" = 0 ]; then
        if has_image "$PUBLIC_BASE" || "$e" pull "$PUBLIC_BASE" >/dev/null 2>&1; then
            base="$PUBLIC_BASE"
        else
            echo "== $PUBLIC_BASE cannot be pulled here: building on the local Debian base"
            cmd_base
            base="$LOCAL_BASE"
        fi
    fi
    valid_image_name "$base" || die "--base '$base' is not an image name ([registry/]name[:tag])"
    has_image "$base" || "$e" pull "$base" >/dev/null 2>&1 \
        || die "base image $base is not here and cannot be pulled (for a local one: scripts/container.sh base)"
    local args=(--build-arg "BASE_IMAGE=$base" --build-arg "TORCH_INDEX=${TORCH_INDEX:-}")
    local wheels="${TORCH_WHEELS:-}"
    if [ -z "$wheels" ] && [ -z "${TORCH_INDEX:-}" ] && compgen -G "/opt/wheels/torch-*.whl" >/dev/null; then
        wheels=/opt/wheels
    fi
    rm -rf .container && mkdir -p .container/wheels
    if [ -n "$wheels" ]; then
        compgen -G "$wheels/torch-*.whl" >/dev/null || die "TORCH_WHEELS=$wheels holds no torch-*.whl"
        cp -l "$wheels"/torch-*.whl .container/wheels/ 2>/dev/null || cp "$wheels"/torch-*.whl .container/wheels/
        args+=(--build-arg "TORCH_WHEELS=.container/wheels")
        echo "== PyTorch from $(basename "$(ls "$wheels"/torch-*.whl | head -1)")"
    fi
    # pip on this host may trust a proxy's CA that the image's own bundle lacks: lend it the host's.
    local ca; ca="$(pip config get global.cert 2>/dev/null || true)"
    ca="${PIP_CERT:-$ca}"
    if [ -n "$ca" ] && [ -f "$ca" ]; then
        cp "$ca" .container/ca-bundle.crt
        args+=(--build-arg "CA_BUNDLE=.container/ca-bundle.crt")
    fi
    if [ "$e" = podman ]; then
        # chroot isolation and host networking build without a daemon or user namespaces; the
        # docker format keeps the HEALTHCHECK.
        args+=(--isolation=chroot --network=host --format docker)
    fi
    local start=$SECONDS
    "$e" build "${args[@]}" -t "$IMAGE" . || die "the image build failed (its log is above)"
    rm -rf .container
    local size; size="$("$e" image inspect --format '{{.Size}}' "$IMAGE")"
    echo "built $IMAGE on $base in $((SECONDS - start)) s: $((size / 1000000)) MB"
}

wait_healthy() {
    local port="$1" deadline=$((SECONDS + 120))
    while [ $SECONDS -lt $deadline ]; do
        if python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2>/dev/null; then
            return 0
        fi
        [ "$("$(engine)" inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ] \
            || { "$(engine)" logs "$NAME" 2>&1 | tail -5 >&2; die "the container stopped before answering /health"; }
        sleep 1
    done
    die "the container did not answer /health on port $port within 120 s"
}

cmd_run() {
    local project="" port=8000 e; e="$(engine)"
    while [ $# -gt 0 ]; do
        case "$1" in
            --port) [ $# -ge 2 ] || die "--port needs a number"; port="$2"; shift 2;;
            --port=*) port="${1#--port=}"; shift;;
            -*) die "unknown option for run: $1";;
            *) [ -z "$project" ] || die "run takes one project folder"; project="$1"; shift;;
        esac
    done
    [ -n "$project" ] || die "run needs the project folder to serve (a trained ganforge project)"
    [ -d "$project" ] || die "project folder $project does not exist"
    project="$(cd "$project" && pwd)"
    [ -f "$project/dvc.yaml" ] || [ -d "$project/data/models" ] \
        || die "$project is not a ganforge project (no dvc.yaml and no data/models/)"
    [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] \
        || die "port must be between 1 and 65535, got '$port'"
    python3 -c "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', $port))" 2>/dev/null \
        || die "port $port is in use: pass --port"
    has_image "$IMAGE" || die "no image $IMAGE here: scripts/container.sh build first"
    "$e" rm -f "$NAME" >/dev/null 2>&1 || true
    local publish=(-p "$port:8000")
    [ "$e" = podman ] && publish=(-e "GANFORGE_PORT=$port")
    # podman without systemd says it cannot schedule the HEALTHCHECK's timer: the check itself
    # still runs on demand (`podman healthcheck run`), so that line is dropped.
    local errors
    # shellcheck disable=SC2046
    errors="$("$e" run -d --name "$NAME" $(run_options) "${publish[@]}" \
        -e "GANFORGE_API_KEY=${GANFORGE_API_KEY:-}" -v "$project:/project:ro" "$IMAGE" 2>&1 >/dev/null)" \
        || die "the container did not start: $(echo "$errors" | grep -v systemd | tail -1)"
    wait_healthy "$port"
    echo "serving $project at http://127.0.0.1:$port (container $NAME, image $IMAGE)"
}

cmd_stop() {
    local e; e="$(engine)"
    "$e" stop -t 10 "$NAME" 2>/dev/null >/dev/null || die "no running container $NAME"
    echo "stopped $NAME: exit status $("$e" inspect --format '{{.State.ExitCode}}' "$NAME")"
}

cmd_smoke() {
    local project="${1:-}" port="${2:-8000}" e; e="$(engine)"
    [ -n "$project" ] || die "smoke needs the project folder to serve"
    has_image "$IMAGE" || cmd_build
    cmd_run "$project" --port "$port"
    local url="http://127.0.0.1:$port"
    python3 - "$url" <<'PY'
import json, sys, urllib.request as u
url = sys.argv[1]
print("health:", u.urlopen(f"{url}/health").status)
models = json.load(u.urlopen(f"{url}/models"))["models"]
print("models:", ", ".join(m["variant"] for m in models))
image = next(m["variant"] for m in models if m["produces"] == "images" and not m["conditional"])
req = u.Request(f"{url}/generate", data=json.dumps({"model": image, "seeds": [0, 1]}).encode(),
                headers={"Content-Type": "application/json"})
png = u.urlopen(req).read()
assert png.startswith(b"\x89PNG"), "generate did not return a PNG"
print(f"generate: {image}, {len(png)} bytes of PNG")
PY
    echo "user in the container: $("$e" exec "$NAME" id -un) (uid $("$e" exec "$NAME" id -u))"
    if [ "$e" = podman ]; then
        "$e" healthcheck run "$NAME" >/dev/null 2>&1 || die "the image's HEALTHCHECK failed"
    else
        local deadline=$((SECONDS + 60))
        until [ "$("$e" inspect --format '{{.State.Health.Status}}' "$NAME")" = healthy ]; do
            [ $SECONDS -lt $deadline ] || die "the image's HEALTHCHECK did not pass within 60 s"
            sleep 2
        done
    fi
    echo "healthcheck: healthy"
    if "$e" exec "$NAME" touch /project/.write-probe 2>/dev/null; then
        die "the container could write to the mounted project"
    fi
    echo "project mount: read-only"
    cmd_stop
}

main() {
    [ $# -ge 1 ] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
    local command="$1"; shift
    case "$command" in
        base) cmd_base "$@";;
        build) cmd_build "$@";;
        run) cmd_run "$@";;
        stop) cmd_stop "$@";;
        smoke) cmd_smoke "$@";;
        -h|--help|help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//';;
        *) die "unknown command '$command': base, build, run, stop or smoke";;
    esac
}

main "$@"

#!/usr/bin/env bash
# `make compose-test`: the docker-compose stack built and run for real, then driven from the host.
#
#   1. a Docker engine (../shared/tools/docker-offline.sh engine: Debian's docker.io + docker-compose v1)
#   2. a local Debian base image (docker-offline.sh base TAG; cached by tag) -- no registry is needed
#   3. docker-compose build (deploy/Dockerfile for the services, deploy/redis.Dockerfile for Redis, FROM that base)
#   4. docker-compose up -d, then wait until every container is healthy
#   5. pytest tests/compose (MMSIM_COMPOSE_STACK=1, the published 127.0.0.1 addresses in MMSIM_<SERVICE>_ADDR);
#      then compose.observability.yaml layered on, with an OTLP receiver standing in for Jaeger, and its test
#   6. docker-compose down -v (containers, networks, the Redis volume), checked to leave nothing behind
#   7. the engine is stopped if, and only if, this script started it (docker-offline.sh stop: by its pidfile PID)
#
# Settings: DOCKER_OFFLINE (path of docker-offline.sh; default ../shared/tools/docker-offline.sh beside the
# repository), MMSIM_BASE_IMAGE (base tag, default mmsim-base:bookworm), COMPOSE_PROJECT_NAME (default
# mmsimci), MMSIM_COMPOSE_KEEP=1 (leave the stack up for a look; you then run `down -v` yourself),
# MMSIM_COMPOSE_HEALTH_TIMEOUT (s, default 180). Ports: free 127.0.0.1 ports are picked for the services, so
# a running `mmsim up` (50061..50064) is not in the way. Network: the builds use the host network (apt, pip);
# at run time the containers talk to each other and to nothing else; the host talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T0=$(date +%s.%N)

log() { printf '\n[compose-test %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')" "$*" >&2; }
fail() { printf '\n########## COMPOSE-TEST FAILED: %s ##########\n' "$*" >&2; exit 1; }
step() {  # step NAME CMD... : run, time, and report one step
    local name=$1; shift; local s; s=$(date +%s.%N)
    log "$name ..."
    "$@" || fail "$name (exit $?)"
    TIMINGS+=("$(printf '%-34s %6.1f s' "$name" "$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')")")
}
TIMINGS=()

DOCKER_OFFLINE=${DOCKER_OFFLINE:-$ROOT/../shared/tools/docker-offline.sh}
[ -f "$DOCKER_OFFLINE" ] || fail "docker-offline.sh not found at $DOCKER_OFFLINE (set DOCKER_OFFLINE)"
[ "$(id -u)" = 0 ] || fail "run as root: docker-offline.sh starts dockerd and runs debootstrap"
export MMSIM_BASE_IMAGE=${MMSIM_BASE_IMAGE:-mmsim-base:bookworm}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-mmsimci}
export COMPOSE_FILE=$ROOT/docker-compose.yml   # docker-compose reads COMPOSE_FILE and COMPOSE_PROJECT_NAME
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || fail "no $PY: run 'make venv' first"
DOCKER=/usr/bin/docker
HEALTH_TIMEOUT=${MMSIM_COMPOSE_HEALTH_TIMEOUT:-180}
COMPOSE=(docker-compose -p "$COMPOSE_PROJECT_NAME")

# Did someone else start the engine? Then it is theirs: use it, never stop it.
STARTED_ENGINE=0
if ! { [ -x "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; }; then STARTED_ENGINE=1; fi
STACK_UP=0
SERVICES=(redis allocator pagecache filesystem rmap)   # the containers waited for and dumped on failure
RESULT=1

dump_stack() {
    log "docker-compose ps:"; "${COMPOSE[@]}" ps >&2 || true
    local svc
    for svc in "${SERVICES[@]}"; do
        log "last log lines of $svc:"; "${COMPOSE[@]}" logs --no-color --tail 40 "$svc" >&2 || true
        local cid; cid=$("${COMPOSE[@]}" ps -q "$svc" 2>/dev/null || true)
        [ -n "$cid" ] && "$DOCKER" inspect -f '{{json .State.Health}}' "$cid" 2>/dev/null | tail -c 1500 >&2 || true
    done
}

teardown() {
    local rc=$?
    [ "$RESULT" = 0 ] || [ "$rc" != 0 ] || rc=1
    if [ "$STACK_UP" = 1 ]; then
        [ "$RESULT" = 0 ] || dump_stack
        if [ "${MMSIM_COMPOSE_KEEP:-0}" = 1 ]; then
            log "MMSIM_COMPOSE_KEEP=1: stack left up; stop it with: ${COMPOSE[*]} down -v"
        else
            local s; s=$(date +%s.%N)
            log "docker-compose down -v ..."
            if "${COMPOSE[@]}" down -v --remove-orphans >&2; then
                TIMINGS+=("$(printf '%-34s %6.1f s' "down -v" "$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')")")
                local left
                left=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; \
                       "$DOCKER" volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; \
                       "$DOCKER" network ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
                if [ -n "$left" ]; then log "ERROR: down -v left these behind: $left"; rc=1; RESULT=1; fi
            else
                log "ERROR: docker-compose down -v failed"; rc=1; RESULT=1
            fi
        fi
    fi
    if [ "$STARTED_ENGINE" = 1 ] && [ "${MMSIM_COMPOSE_KEEP:-0}" != 1 ]; then
        log "stopping the Docker engine this run started"
        bash "$DOCKER_OFFLINE" stop || { log "ERROR: could not stop dockerd"; rc=1; }
    fi
    log "timings:"; printf '  %s\n' "${TIMINGS[@]}" >&2
    if [ "$rc" = 0 ]; then log "COMPOSE-TEST OK"; else printf '\n########## COMPOSE-TEST FAILED (exit %s) ##########\n' "$rc" >&2; fi
    exit "$rc"
}
trap teardown EXIT

step "engine (docker-offline.sh engine)" bash "$DOCKER_OFFLINE" engine
# the classic builder (honours build.network: host) and docker-compose building through docker-py
eval "$(bash "$DOCKER_OFFLINE" env)"
export DOCKER_BUILDKIT COMPOSE_DOCKER_CLI_BUILD
step "base image $MMSIM_BASE_IMAGE" bash "$DOCKER_OFFLINE" base "$MMSIM_BASE_IMAGE"
step "compose config (file accepted)" "${COMPOSE[@]}" config -q
step "compose config + observability overlay" env COMPOSE_FILE="$COMPOSE_FILE:$ROOT/compose.observability.yaml" "${COMPOSE[@]}" config -q

# free loopback ports for the published gRPC ports
read -r P1 P2 P3 P4 < <("$PY" -c 'import socket
ss=[socket.socket() for _ in range(4)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])
[s.close() for s in ss]')
export MMSIM_ALLOCATOR_PORT=$P1 MMSIM_PAGECACHE_PORT=$P2 MMSIM_FILESYSTEM_PORT=$P3 MMSIM_RMAP_PORT=$P4

build() { "${COMPOSE[@]}" build >"$BUILD_LOG" 2>&1 || { tail -n 60 "$BUILD_LOG" >&2; return 1; }; }
BUILD_LOG=$(mktemp /tmp/mmsim-compose-build.XXXXXX.log)
step "compose build (4 services + redis)" build
rm -f "$BUILD_LOG"
"$DOCKER" image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "mmsim" >&2 || true

# leftovers of an interrupted earlier run of this project (same engine): remove them first
if [ -n "$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")" ]; then
    log "removing leftovers of an earlier $COMPOSE_PROJECT_NAME stack"
    COMPOSE_FILE=$COMPOSE_FILE:$ROOT/compose.observability.yaml:$ROOT/tests/compose/otlp-standin.yaml \
        "${COMPOSE[@]}" down -v --remove-orphans >&2 || fail "could not remove the earlier $COMPOSE_PROJECT_NAME stack"
fi
STACK_UP=1
step "compose up -d" "${COMPOSE[@]}" up -d --no-build

wait_healthy() {  # every container of SERVICES running, and healthy where it has a health check
    local deadline=$(( $(date +%s) + HEALTH_TIMEOUT )) svc cid st pending
    while :; do
        pending=""
        for svc in "${SERVICES[@]}"; do
            cid=$("${COMPOSE[@]}" ps -q "$svc")
            st=$([ -n "$cid" ] && "$DOCKER" inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$cid" || echo missing)
            case "$st" in
                running/healthy|running/) ;;
                exited/*|dead/*|missing) log "container of $svc is $st"; return 1 ;;
                *) pending+=" $svc($st)" ;;
            esac
        done
        [ -z "$pending" ] && return 0
        [ "$(date +%s)" -lt "$deadline" ] || { log "not healthy after ${HEALTH_TIMEOUT}s:$pending"; return 1; }
        sleep 1
    done
}
step "wait for health (5 containers)" wait_healthy

export MMSIM_COMPOSE_STACK=1
export MMSIM_ALLOCATOR_ADDR=127.0.0.1:$P1 MMSIM_PAGECACHE_ADDR=127.0.0.1:$P2 \
       MMSIM_FILESYSTEM_ADDR=127.0.0.1:$P3 MMSIM_RMAP_ADDR=127.0.0.1:$P4
step "pytest tests/compose (host client)" "$ROOT/.venv/bin/pytest" -q -p no:cacheprovider -rs tests/compose

# Phase 2: the observability overlay, with an OTLP/gRPC receiver from the mmsim image standing in for Jaeger
# (no registry here): the four services are recreated with OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4317.
export COMPOSE_FILE=$COMPOSE_FILE:$ROOT/compose.observability.yaml:$ROOT/tests/compose/otlp-standin.yaml
SERVICES+=(jaeger)
read -r PJ < <("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MMSIM_JAEGER_UI_PORT=$PJ
step "compose up -d (+ observability overlay)" "${COMPOSE[@]}" up -d --no-build
step "wait for health (overlay)" wait_healthy
export MMSIM_COMPOSE_OTLP=1
step "pytest: spans over OTLP to jaeger:4317" "$ROOT/.venv/bin/pytest" -q -p no:cacheprovider -rs \
    tests/compose -k observability_overlay
RESULT=0

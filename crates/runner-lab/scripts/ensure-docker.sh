#!/bin/sh
# ensure-docker.sh: makes a fresh Debian machine ready for `runner lab`.
# Installs (apt-get, non-interactive, only what is missing) docker.io,
# openssh-client and debootstrap, plus a compose package when apt has one
# (best effort: the controller only needs the docker CLI, compose runs inside
# the lab hosts), then starts a Docker engine in the background if none
# answers and waits (60 s at most) until `docker info` works.
# Usage: sh crates/runner-lab/scripts/ensure-docker.sh   (as root, or with sudo)
set -eu

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

need=""
if ! have docker || ! have dockerd; then
    need="$need docker.io"
fi
if ! have ssh || ! have ssh-keygen; then
    need="$need openssh-client"
fi
if ! have debootstrap; then
    need="$need debootstrap"
fi

updated=no
apt_update() {
    if [ "$updated" = no ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        updated=yes
    fi
}

if [ -n "$need" ]; then
    echo "ensure-docker: installing$need"
    apt_update
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
        apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# Compose on the controller is optional; install Debian's package if no
# compose is there and apt offers one (bookworm: docker-compose 1.29).
if ! docker compose version >/dev/null 2>&1 && ! have docker-compose; then
    apt_update
    for pkg in docker-compose-plugin docker-compose; do
        if apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            echo "ensure-docker: installing $pkg (optional)"
            $SUDO env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
                apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
                echo "ensure-docker: $pkg did not install; going on without it"
            break
        fi
    done
fi

if docker info >/dev/null 2>&1; then
    echo "ensure-docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
    echo "ensure-docker: DOCKER_HOST=$DOCKER_HOST does not answer; starting a local engine instead" >&2
    unset DOCKER_HOST
fi

log=/tmp/dockerd.log
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    echo "ensure-docker: starting docker with systemctl"
    $SUDO systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
    dockerd_bin=$(command -v dockerd || echo /usr/sbin/dockerd)
    echo "ensure-docker: starting $dockerd_bin in the background (log: $log)"
    # shellcheck disable=SC2086
    $SUDO sh -c "nohup '$dockerd_bin' >'$log' 2>&1 &"
fi

i=0
while ! docker info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
        echo "ensure-docker: no Docker engine answers after 60 s; last lines of $log:" >&2
        tail -n 30 "$log" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 1
done
echo "ensure-docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"

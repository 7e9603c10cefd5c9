#!/usr/bin/env bash
# Installs what the `modwatch worker` tests need: Debian's nats-server (2.9),
# which the tests start themselves on loopback (temporary directories, free
# ports) and stop at the end. Only when missing, so a second run is instant.
# The package's own service is stopped and disabled when systemd runs it: the
# tests never use it.
set -euo pipefail

if command -v nats-server >/dev/null 2>&1; then
    exit 0
fi
echo "setup-nats: installing Debian's nats-server" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends nats-server; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends nats-server
fi
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    $sudo systemctl disable --now nats-server >/dev/null 2>&1 || true
fi

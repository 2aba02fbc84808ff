#!/usr/bin/env bash
# Runs a command inside a new network namespace in which only loopback is up,
# so that nothing it starts (tor, libtorrent, browsers, mail) can leave the machine.
set -euo pipefail
if [ "${HEROES_IN_NETNS:-}" = "1" ]; then exec "$@"; fi
export HEROES_IN_NETNS=1
if [ "$(id -u)" = "0" ]; then
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' loopback-only "$@"
fi
exec unshare --map-root-user --net -- bash -c 'ip link set lo up && exec "$@"' loopback-only "$@"

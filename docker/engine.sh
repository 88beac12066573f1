#!/usr/bin/env bash
# A private Docker engine for tests and CI (docs: docker/README.md). Everything it has lives under
# DIR (the argument, else $LEM_DOCKER_DIR): data root, exec root, pid file, log and socket. No
# bridge and no iptables: containers use host (or no) networking, so traffic stays on loopback.
#
#   docker/engine.sh start [DIR]   start it (overlay2, else vfs), wait until it answers, print
#                                  `export DOCKER_HOST=unix://DIR/docker.sock` on stdout; a running
#                                  one is reused
#   docker/engine.sh env [DIR]     print that line if it answers (exit 1 if not)
#   docker/engine.sh stop [DIR]    stop it by its pid file, then remove what it left under DIR
#
# Needs root and Debian's docker.io (dockerd + docker). Only the export line goes to stdout, so
# `eval "$(docker/engine.sh start DIR)"` works; progress goes to stderr.
#
# GPUs, simulated at the lowest boundary: dockerd accepts GPU device requests (`--gpus`,
# DeviceRequests) only when the NVIDIA container toolkit's `nvidia-container-runtime-hook` is on
# its PATH; it then sets NVIDIA_VISIBLE_DEVICES in the container and runs the hook before start.
# This engine gets a stand-in hook (DIR/bin) that gives the container no device and appends the
# container's NVIDIA_VISIBLE_DEVICES to DIR/gpu-hook.log, so the device requests lem makes for a
# GPU backend reach a real engine and can be checked.
set -euo pipefail
cmd=${1:-}
dir=${2:-${LEM_DOCKER_DIR:-}}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|env|stop DIR   (or set LEM_DOCKER_DIR)" >&2
  exit 2
fi
dir=$(realpath -m "$dir")
host="unix://$dir/docker.sock"
pidfile="$dir/dockerd.pid"

answers() { docker -H "$host" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# The stand-in for the NVIDIA hook (see the header). It reads the OCI state on stdin for the
# container's bundle, and logs the NVIDIA_VISIBLE_DEVICES of the bundle's config.json.
write_gpu_hook() {
  mkdir -p "$dir/bin"
  cat >"$dir/bin/nvidia-container-runtime-hook" <<HOOK
#!/bin/sh
bundle=\$(sed -n 's/.*"bundle":"\([^"]*\)".*/\1/p')
devices=\$(grep -o 'NVIDIA_VISIBLE_DEVICES=[^"]*' "\$bundle/config.json" 2>/dev/null | head -n 1)
echo "\$1 \${devices:-NVIDIA_VISIBLE_DEVICES=}" >>"$dir/gpu-hook.log"
exit 0
HOOK
  chmod 755 "$dir/bin/nvidia-container-runtime-hook"
}

# Starts dockerd with storage driver $1 and waits up to 15 s for it to answer; 1 if it died or did not.
start_with() {
  write_gpu_hook
  PATH="$dir/bin:$PATH" dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidfile" -H "$host" \
    --storage-driver "$1" --bridge=none --iptables=false --ip6tables=false \
    >>"$dir/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 150); do
    if answers; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  return 1
}

stop_engine() {
  if running; then
    local pid
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Mounts the engine left (overlay layers, container roots), deepest first, then its files only:
  # DIR itself may be a folder the caller owns.
  { grep -F " $dir/" /proc/self/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir/data" "$dir/exec" "$dir/docker.sock" "$pidfile" "$dir/dockerd.log" "$dir/bin" "$dir/gpu-hook.log"
  [ "${1:-}" = keep-log ] || rm -f "$dir/dockerd-overlay2.log"
  rmdir "$dir" 2>/dev/null || true
}

case "$cmd" in
  start)
    [ "$(id -u)" -eq 0 ] || { echo "engine.sh: dockerd needs root" >&2; exit 1; }
    command -v dockerd >/dev/null || { echo "engine.sh: no dockerd (apt-get install docker.io)" >&2; exit 1; }
    mkdir -p "$dir"
    if running && answers; then
      echo "export DOCKER_HOST=$host"
      exit 0
    fi
    if ! start_with overlay2; then
      echo "engine.sh: dockerd did not start with overlay2; trying vfs (its log: $dir/dockerd-overlay2.log)" >&2
      mv -f "$dir/dockerd.log" "$dir/dockerd-overlay2.log" 2>/dev/null || true
      stop_engine keep-log
      mkdir -p "$dir"
      start_with vfs || { echo "engine.sh: dockerd did not start: $(tail -n 5 "$dir/dockerd.log" 2>/dev/null)" >&2; exit 1; }
    fi
    echo "export DOCKER_HOST=$host"
    ;;
  env)
    answers || { echo "engine.sh: no engine answers at $host" >&2; exit 1; }
    echo "export DOCKER_HOST=$host"
    ;;
  stop) stop_engine ;;
  *)
    echo "usage: $0 start|env|stop DIR" >&2
    exit 2
    ;;
esac

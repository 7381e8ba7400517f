#!/usr/bin/env bash
# Shared by the Python clients' install.sh and run.sh (compat/README.md).
#   venv.sh install FOLDER   create ${RIFFLE_CACHE_DIR}/compat/FOLDER/venv from
#                            compat/FOLDER/requirements.txt, unless it is there already
#   venv.sh path FOLDER      print the venv's directory
# A venv counts as installed when its stamp file holds exactly requirements.txt plus the
# interpreter's version and path: change a pin (or the Python) and it is built anew. Every
# requirement is pinned, dependencies included, and installed with --no-deps from binary
# wheels only, then `pip check` confirms nothing is missing.
set -euo pipefail
action=$1
folder=$2
here=$(cd "$(dirname "$0")" && pwd)
requirements=$here/../$folder/requirements.txt
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}
venv=$cache/compat/$folder/venv
python=${PYTHON:-python3}

if [ "$action" = path ]; then
  echo "$venv"
  exit 0
fi
[ "$action" = install ] || { echo "usage: venv.sh install|path FOLDER" >&2; exit 2; }

wanted() {
  cat "$requirements"
  "$python" -c 'import sys, os; print(sys.version); print(os.path.realpath(sys.executable))'
}
stamp=$venv/riffle-requirements.stamp
if [ -f "$stamp" ] && [ -x "$venv/bin/python" ] && [ "$(wanted)" = "$(cat "$stamp")" ]; then
  echo "$folder: venv up to date at $venv"
  exit 0
fi

echo "$folder: building venv at $venv"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --no-deps --only-binary :all: -r "$requirements"
"$venv/bin/python" -m pip check --disable-pip-version-check
# Written last: an interrupted install leaves no stamp and is redone next time.
wanted >"$stamp.part"
mv "$stamp.part" "$stamp"
echo "$folder: installed"
"$venv/bin/python" -m pip freeze --disable-pip-version-check

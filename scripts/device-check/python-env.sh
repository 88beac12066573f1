#!/usr/bin/env bash
# A Python for trying the device check where there is no GPU (its test, CI): a virtual
# environment with PyTorch's CPU build and the transformers release of the GPU machine's image.
# Made once and kept (a venv is ~1 GiB: it stays out of the repository and of the bundle); made
# again when its versions are not these. Prints the interpreter's path.
#
#   scripts/device-check/python-env.sh [DIR]    (default ${XDG_CACHE_HOME:-~/.cache}/lem/device-check-python)
#
# TORCH and TRANSFORMERS override the pins (pip requirement specifiers).
set -euo pipefail
DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/lem/device-check-python}
# The CPU build: the default build would bring CUDA's libraries, GiBs of them, for nothing here.
TORCH=${TORCH:-torch==2.13.0+cpu}
TRANSFORMERS=${TRANSFORMERS:-transformers==5.17.0}
PY=$DIR/bin/python
WANT="$TORCH $TRANSFORMERS"

if [ -x "$PY" ] && [ "$(cat "$DIR/.lem-pins" 2>/dev/null)" = "$WANT" ] && "$PY" -c 'import torch, transformers' 2>/dev/null; then
  echo "$PY"
  exit 0
fi
BASE=$(command -v python3) || { echo "python-env: E_NO_PYTHON: no python3 on PATH" >&2; echo "  Try: apt-get install python3 python3-venv" >&2; exit 2; }
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
"$BASE" -m venv "$DIR" >&2 || { echo "python-env: E_NO_VENV: $BASE cannot make a virtual environment" >&2; echo "  Try: apt-get install python3-venv" >&2; exit 2; }
# No retries: an index that cannot be reached says so at once, and pip moves on to the next one.
LOG=$DIR/.pip.log
PIP_RETRIES=0 PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install "$TORCH" "$TRANSFORMERS" >"$LOG" 2>&1 ||
  { tail -n 30 "$LOG" >&2; echo "python-env: E_PIP: pip could not install $WANT (above: the end of $LOG)" >&2; echo "  Try: TORCH=<a torch requirement this machine's index has> $0" >&2; exit 1; }
echo "$WANT" >"$DIR/.lem-pins"
echo "$PY"

#!/usr/bin/env bash
# VidMusician for DaVinci Resolve (macOS, Linux): install/install.sh [--system] [--ml] [--dry-run] [--uninstall] ...
# Finds a Python 3.11+ and runs install/install.py with the same options (see its --help).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
for PY in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    if [ -n "$PY" ] && command -v "$PY" >/dev/null 2>&1 \
        && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        exec "$PY" "$HERE/install.py" "$@"
    fi
done
echo "VidMusician needs Python 3.11 or newer; none was found. Install it (python.org), or run: PYTHON=/path/to/python3.11 $0" >&2
exit 2

#!/usr/bin/env bash
# Set up VidMusician in a virtual environment: install/setup.sh [PYTHON] [VENV] [EXTRAS]
# Installs the package (editable) with the given extras (comma-separated, e.g.
# "dev,clip"; empty for the package alone). Safe to rerun.
set -euo pipefail
PYTHON=${1:-python3}
VENV=${2:-.venv}
EXTRAS=${3:-}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "VidMusician needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1)." >&2
    echo "Run: make PYTHON=python3.11 ..." >&2
    exit 2
fi

# System libraries: core needs none beyond the wheels. The panel's QtMultimedia
# (playback) needs libpulse0 on Linux; without it the panel runs without sound.
case ",$EXTRAS," in
    *,ui,*)
        if [ "$(uname -s)" = "Linux" ] && ! ldconfig -p 2>/dev/null | grep -q "libpulse.so.0"; then
            if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
                echo "installing libpulse0 (QtMultimedia's audio library) with apt-get"
                apt-get install -y -qq libpulse0 >/dev/null 2>&1 \
                    || { apt-get update -qq >/dev/null && apt-get install -y -qq libpulse0 >/dev/null; } \
                    || echo "note: libpulse0 did not install; the panel will run without sound" >&2
            else
                echo "note: the panel plays audio through libpulse0; install it (sudo apt-get install libpulse0)" >&2
            fi
        fi
        ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if [ -n "$EXTRAS" ]; then
    "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
else
    "$VENV/bin/python" -m pip install --quiet -e .
fi
# the SoundFont renderer, without pyaudio (playback only; it needs system headers to build)
"$VENV/bin/python" -m pip install --quiet --no-deps "tinysoundfont>=0.3"
case ",$EXTRAS," in
    *,neural,*) bash "$(dirname "$0")/neural.sh" "$VENV" ;;
esac
echo "VidMusician installed in $VENV ($("$VENV/bin/vidmusician" --version))"

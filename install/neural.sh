#!/usr/bin/env bash
# The MusicGen backend's audiocraft, the route that works on Python 3.11 with torch 2.13:
# install/neural.sh [VENV]   (install/setup.sh runs it for the "neural" extra)
#
# audiocraft 1.3.0 pins torch 2.1, av 11 and xformers < 0.0.23, none of which install
# here; its real runtime needs are the "neural" extra in pyproject.toml (unpinned), so
# audiocraft itself goes in without its pins. The torchaudio wheel on the registry is a
# CUDA build whose native libraries fail to load beside a CPU torch; without them the
# pure-Python torchaudio that audiocraft imports works. `pip check` will always complain
# about audiocraft's pins: that is expected.
set -euo pipefail
VENV=${1:-.venv}
"$VENV/bin/python" -m pip install --quiet --no-deps "audiocraft==1.3.0"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! "$VENV/bin/python" -c 'import torchaudio' 2>/dev/null; then
    rm -f "$SITE"/torchaudio/lib/*.so
fi
"$VENV/bin/python" -c 'import audiocraft.models' 2>/dev/null \
    || { echo "audiocraft does not import; see install/neural.sh" >&2; exit 1; }
echo "audiocraft $("$VENV/bin/python" -c 'import audiocraft; print(audiocraft.__version__)' 2>/dev/null) installed"

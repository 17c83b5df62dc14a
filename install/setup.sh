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

# System libraries: core needs none beyond the wheels. The panel (Linux) needs
# libpulse0 for QtMultimedia (playback; without it the panel runs without sound)
# and, for a real window, what Qt 6.11's xcb platform plugin links to (ldd on
# PyQt6/Qt6/plugins/platforms/libqxcb.so, libQt6XcbQpa.so.6 and
# xcbglintegrations/*.so on Debian bookworm); offscreen needs none of them.
# vidmusician doctor checks the same (QT_XCB_LIBRARIES in core/doctor.py).
# Each entry: the library (as ldconfig lists it) and the Debian/Ubuntu package.
QT_XCB_LIBRARIES="libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4
    libxcb-image.so.0:libxcb-image0 libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-randr.so.0:libxcb-randr0
    libxcb-render-util.so.0:libxcb-render-util0 libxcb-render.so.0:libxcb-render0
    libxcb-shape.so.0:libxcb-shape0 libxcb-shm.so.0:libxcb-shm0 libxcb-sync.so.1:libxcb-sync1
    libxcb-util.so.1:libxcb-util1 libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-xkb.so.1:libxcb-xkb1
    libxcb-glx.so.0:libxcb-glx0 libxcb.so.1:libxcb1 libX11-xcb.so.1:libx11-xcb1 libX11.so.6:libx11-6
    libxkbcommon.so.0:libxkbcommon0 libxkbcommon-x11.so.0:libxkbcommon-x11-0 libEGL.so.1:libegl1
    libGL.so.1:libgl1 libfontconfig.so.1:libfontconfig1 libfreetype.so.6:libfreetype6
    libdbus-1.so.3:libdbus-1-3 libglib-2.0.so.0:libglib2.0-0"

apt_install() {  # apt_install WHAT NOTE PACKAGES...: install as root with apt-get, else a note
    what=$1 note=$2
    shift 2
    if [ "$(id -u)" = "0" ]; then
        echo "installing $what with apt-get: $*"
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } \
            || echo "note: $* did not install; $note" >&2
    else
        echo "note: $note; install with: sudo apt-get install $*" >&2
    fi
}

case ",$EXTRAS," in
    *,ui,*)
        if [ "$(uname -s)" = "Linux" ] && command -v apt-get >/dev/null; then
            if ! ldconfig -p 2>/dev/null | grep -q "libpulse.so.0"; then
                apt_install "libpulse0 (QtMultimedia's audio library)" "the panel will run without sound" libpulse0
            fi
            have=$(ldconfig -p 2>/dev/null || true)
            missing=""
            for entry in $QT_XCB_LIBRARIES; do
                printf '%s\n' "$have" | grep -qF "${entry%%:*} " || missing="$missing ${entry#*:}"
            done
            if [ -n "$missing" ]; then
                # shellcheck disable=SC2086  # one word per package
                apt_install "the libraries of Qt's xcb platform (the panel's window)" \
                    "the panel's window needs them on an X11 desktop (offscreen --screenshot works without)" $missing
            fi
        elif [ "$(uname -s)" = "Linux" ]; then
            echo "note: the panel needs libpulse (sound) and, for its window, xcb-util-cursor and the xcb" \
                "libraries Qt's xcb plugin links to; vidmusician doctor says what is missing" >&2
        fi
        ;;
esac

# A better General MIDI SoundFont than the bundled TimGM6mb (6 MB) for the
# arranger, which finds it by itself (core/backends/arranger/soundfont.py).
# Opt-in, as it is a 130 MB download: VIDMUSICIAN_APT=1 installs Debian/Ubuntu's
# fluid-soundfont-gm (FluidR3 GM, /usr/share/sounds/sf2) with apt-get, as root
# or through sudo without a password prompt; without apt-get, or offline, the
# set-up says so and goes on (the arranger then plays TimGM6mb).
if [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || ls /usr/share/sounds/sf3/MuseScore_General*.sf3 >/dev/null 2>&1; then
    :  # a system font is there already
elif [ "${VIDMUSICIAN_APT:-0}" = "1" ] && command -v apt-get >/dev/null; then
    as_root=""
    if [ "$(id -u)" != "0" ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root="sudo -n"; fi
    fi
    if [ "$(id -u)" = "0" ] || [ -n "$as_root" ]; then
        echo "installing the fluid-soundfont-gm SoundFont with apt-get (VIDMUSICIAN_APT=1)"
        $as_root apt-get install -y -qq --no-install-recommends fluid-soundfont-gm >/dev/null 2>&1 \
            || { timeout 300 $as_root apt-get update -qq >/dev/null 2>&1 \
                && timeout 900 $as_root apt-get install -y -qq --no-install-recommends fluid-soundfont-gm >/dev/null 2>&1; } \
            || echo "note: fluid-soundfont-gm did not install (offline?); the arranger plays the bundled TimGM6mb" >&2
    else
        echo "note: VIDMUSICIAN_APT=1 needs root or password-less sudo; install with: sudo apt-get install fluid-soundfont-gm" >&2
    fi
elif [ "${VIDMUSICIAN_APT:-0}" = "1" ]; then
    echo "note: no apt-get here; the arranger plays the bundled TimGM6mb (give a better one with --soundfont)" >&2
elif command -v apt-get >/dev/null; then
    echo "note: for better instruments: VIDMUSICIAN_APT=1 make setup, or sudo apt-get install fluid-soundfont-gm" >&2
fi

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

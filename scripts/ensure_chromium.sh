#!/usr/bin/env bash
# Make sure headless Chromium is available for the report's browser test.
# Idempotent: does nothing when `chromium` is already on PATH. Installs Debian's `chromium`
# package with apt-get otherwise (as root, or through sudo when available). When apt is not
# available, prints why and exits 0: the browser test then skips with a clear reason.
set -u

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: apt-get not available; install Chromium by hand to run the browser test" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "ensure_chromium: not root and no passwordless sudo; skipping Chromium install" >&2
        exit 0
    fi
fi

echo "ensure_chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
if ! ( $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium ) >&2; then
    echo "ensure_chromium: apt-get install chromium failed; the browser test will skip" >&2
    exit 0
fi
command -v chromium >/dev/null 2>&1 && echo "ensure_chromium: $(chromium --version 2>/dev/null)" >&2
exit 0

#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) are available for the shared-study
# test of `torchdoctor tune` (tests/test_tune_postgres.py starts its own server on loopback in
# a temporary directory; nothing is configured system-wide).
# Idempotent: does nothing when /usr/lib/postgresql/*/bin/initdb exists. Installs Debian's
# `postgresql` package with apt-get otherwise (as root, or through passwordless sudo). When
# that is impossible it says why and exits 0: the test then fails on CI with a clear message
# (off CI, without the binaries, it skips and prints why).
set -u

found() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

if found; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_postgres: apt-get not available; install PostgreSQL by hand to run the shared-study test" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "ensure_postgres: not root and no passwordless sudo; cannot install postgresql" >&2
        exit 0
    fi
fi

echo "ensure_postgres: installing Debian's postgresql package" >&2
export DEBIAN_FRONTEND=noninteractive
if ! ( $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends postgresql ) >&2; then
    echo "ensure_postgres: apt-get install postgresql failed" >&2
    exit 0
fi
# the package's own cluster is not needed: the test starts a private server
found && echo "ensure_postgres: $(ls -d /usr/lib/postgresql/*/bin | head -n1)" >&2
exit 0

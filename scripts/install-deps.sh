#!/usr/bin/env bash
# Installs what building and testing Tsunagu needs on Debian: the web app's npm packages,
# the real peers the tests drive (PostgreSQL, Chromium, SIPp, baresip, sox) and, from PyPI in
# .venv, schemathesis (fuzzes the API against its OpenAPI document), moto, aiosmtpd and pylibsrtp.
# Safe to run again; apt is only called for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v sipp >/dev/null || need+=(sip-tester)
command -v sox >/dev/null || need+=(sox)
# A real softphone for crates/tsunagu/tests/softphone.rs, run in a network namespace of its own.
command -v baresip >/dev/null || need+=(baresip-core)
command -v ip >/dev/null || need+=(iproute2)
command -v node >/dev/null || need+=(nodejs npm)
command -v curl >/dev/null || need+=(curl)
# A Japanese font, so that screenshots of the UI show Japanese, not boxes.
ls /usr/share/fonts/opentype/ipafont-gothic >/dev/null 2>&1 || need+=(fonts-ipafont-gothic)
command -v python3 >/dev/null || need+=(python3)
# A virtual environment for schemathesis (Debian's pip refuses system-wide installs).
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "== apt-get install ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust (https://rustup.rs) first" >&2
    exit 1
fi

# `npm ci` installs exactly the committed lock file and never rewrites it. It starts from an
# empty node_modules, so it is skipped when the installed packages are from this same lock.
stamp=web/node_modules/.tsunagu-package-lock.json
if ! cmp -s web/package-lock.json "$stamp" 2>/dev/null; then
    echo "== npm ci (web, as locked)"
    npm --prefix web ci --no-audit --no-fund --loglevel=error
    cp web/package-lock.json "$stamp"
fi

SCHEMATHESIS_VERSION=4.32.5
if ! .venv/bin/schemathesis --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "== pip install schemathesis==$SCHEMATHESIS_VERSION (.venv)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
# A real S3-compatible server for the recording archive's upload test (moto in server mode,
# with its IAM authentication on, so that signatures are checked).
MOTO_VERSION=5.2.5
if ! .venv/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "== pip install moto[server]==$MOTO_VERSION (.venv)"
    .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
# A real SMTP server for the notification-mail tests (crates/api/tests/mail.rs).
AIOSMTPD_VERSION=1.4.6
if ! .venv/bin/python -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    echo "== pip install aiosmtpd==$AIOSMTPD_VERSION (.venv)"
    .venv/bin/pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi
# libsrtp (Cisco's, the SRTP of Asterisk and FreeSWITCH) through its Python binding, the
# other end of crates/media/tests/srtp.rs's interop test; its wheels carry libsrtp itself.
PYLIBSRTP_VERSION=1.0.0
if ! .venv/bin/python -c "import pylibsrtp, sys; sys.exit(pylibsrtp.__version__ != '$PYLIBSRTP_VERSION')" 2>/dev/null; then
    echo "== pip install pylibsrtp==$PYLIBSRTP_VERSION (.venv)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "pylibsrtp==$PYLIBSRTP_VERSION"
fi

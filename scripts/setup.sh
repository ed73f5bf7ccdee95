#!/usr/bin/env bash
# Everything a fresh machine needs: system packages the tests use (GnuPG, PostgreSQL, Debian's
# Chromium and chromedriver for the browser test, Dovecot for the IMAP test) and a virtual
# environment with cirt and its test dependencies in .venv. Safe to run again: what is present is
# not installed twice.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
# The intake tests: a real browser (Debian's Chromium and its WebDriver) and a real IMAP server.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
[ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # The tests start their own Dovecot on a loopback port; the system-wide one the package
  # enables is not wanted on a developer's machine.
  if [[ " ${need_apt[*]} " == *" dovecot-imapd "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
  fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

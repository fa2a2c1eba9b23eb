#!/usr/bin/env bash
# Runs the whole test suite: installs, idempotently, what the tests need, then `cargo test`.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --test sim_api   # extra arguments go to `cargo test`
#
# The tests drive real programs (dig, nsupdate, knsupdate, openssl, pebble, lego, certbot);
# a test whose program is missing fails loudly rather than skipping, so install them here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: command that proves the package is there → package name.
declare -A APT=(
  [dig]=bind9-dnsutils
  [nsupdate]=bind9-dnsutils
  [knsupdate]=knot-dnsutils
  [openssl]=openssl
  [pebble]=pebble
  [lego]=lego
)
missing=()
for cmd in "${!APT[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${APT[$cmd]}")
done
if ((${#missing[@]})); then
  echo "test.sh: installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

# Python tools in a project venv (dnspython builds exact wire cases; certbot with its rfc2136
# plugin is an ACME client of the end-to-end tests). Module that proves it is there → package.
VENV=.venv
declare -A PY=(
  [dns]=dnspython
  [certbot]=certbot
  [certbot_dns_rfc2136]=certbot-dns-rfc2136
  [yaml]=pyyaml
)
if [ ! -x "$VENV/bin/python" ]; then
  echo "test.sh: creating the Python venv in $VENV" >&2
  python3 -m venv "$VENV"
fi
py_missing=()
for module in "${!PY[@]}"; do
  "$VENV/bin/python" -c "import $module" >/dev/null 2>&1 || py_missing+=("${PY[$module]}")
done
if ((${#py_missing[@]})); then
  echo "test.sh: installing Python packages: ${py_missing[*]}" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "${py_missing[@]}"
fi
export PATH="$PWD/$VENV/bin:$PATH"

exec cargo test "$@"

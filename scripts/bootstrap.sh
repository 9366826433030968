#!/usr/bin/env bash
# Install what the repo needs on a fresh Debian machine: apt packages, then the locked Python environment.
# Idempotent and quick when nothing changed (the venv is re-synced only when requirements-lock.txt changes).
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: Debian's browser, driven by Playwright in the UI test (tests/platform/); Playwright's own is never downloaded
APT_PACKAGES=(mariadb-server mariadb-client libmariadb-java default-libmysqlclient-dev pkg-config
              openjdk-17-jre-headless build-essential chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  # java on PATH already (e.g. a machine with its own JDK 17) is enough: don't pull a second one
  if command -v java >/dev/null && java -version 2>&1 | grep -q '"17'; then
    missing=("${missing[@]/openjdk-17-jre-headless}")
  fi
  echo "bootstrap: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null
fi

# MWAA runs Python 3.12: so does the venv (numpy and others resolve differently per version). pyenv's 3.12
# if there is one, else a python3.12 that runs; PYTHON=... overrides.
if [ -z "${PYTHON:-}" ]; then
  for candidate in $(ls -d "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions/3.12*/bin/python3.12 2>/dev/null \
                     | sort -V -r) python3.12; do
    if "$candidate" -c '' 2>/dev/null; then PYTHON=$candidate; break; fi
  done
  [ -n "${PYTHON:-}" ] || { echo "bootstrap: Python 3.12 not found (install it, or set PYTHON=...)" >&2; exit 1; }
fi
# a uv that answers (a pyenv shim named uv can be on PATH and still fail)
if uv --version >/dev/null 2>&1; then UV=(uv); else
  "$PYTHON" -m uv --version >/dev/null 2>&1 || "$PYTHON" -m pip install -q uv
  UV=("$PYTHON" -m uv)
fi
version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
stamp=.venv/.lock-sha256
want="$(sha256sum requirements-lock.txt | cut -d' ' -f1) $(version "$PYTHON")"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: syncing .venv ($PYTHON) with requirements-lock.txt"
  [ -x .venv/bin/python ] && [ "$(version .venv/bin/python)" != "$(version "$PYTHON")" ] && rm -rf .venv
  [ -x .venv/bin/python ] || "${UV[@]}" venv -q -p "$PYTHON" .venv
  "${UV[@]}" pip sync -q --python .venv/bin/python requirements-lock.txt
  echo "$want" > "$stamp"
fi

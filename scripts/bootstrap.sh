#!/usr/bin/env bash
# Install what the repo needs on a fresh Debian machine: apt packages, then the locked Python environment.
# Idempotent and quick when nothing changed (the venv is re-synced only when requirements-lock.txt changes).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mariadb-server mariadb-client libmariadb-java default-libmysqlclient-dev pkg-config
              openjdk-17-jre-headless build-essential)
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

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
command -v uv >/dev/null || "$PYTHON" -m pip install -q uv
stamp=.venv/.lock-sha256
want=$(sha256sum requirements-lock.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: syncing .venv with requirements-lock.txt"
  [ -x .venv/bin/python ] || uv venv -q -p "$PYTHON" .venv
  VIRTUAL_ENV=.venv uv pip sync -q requirements-lock.txt
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# Install GNU Go (the Go oracle for tests and matches) if it is not already there. Idempotent.
# Debian puts the binary in /usr/games, which is not on root's default PATH; qstar looks there too
# (qstar.games.go.client.find_gnugo).
set -euo pipefail

if command -v gnugo >/dev/null 2>&1 || [ -x /usr/games/gnugo ]; then
  echo "gnugo already installed: $(command -v gnugo || echo /usr/games/gnugo)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq gnugo
if [ -x /usr/games/gnugo ]; then
  echo "gnugo installed: /usr/games/gnugo"
else
  echo "gnugo installed: $(command -v gnugo)"
fi

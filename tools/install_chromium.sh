#!/usr/bin/env bash
# Odoo's tour runner drives Debian's chromium through websocket-client. Install it when missing
# and we may (root with apt-get); otherwise say how, since the UI tour cannot run without it.
set -eu
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the UI tour..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "chromium is missing: install it (sudo apt-get install chromium) or the UI tour fails." >&2
fi

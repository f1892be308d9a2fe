#!/usr/bin/env bash
# Debian packages the Odoo suite drives: chromium (the UI tour, through websocket-client) and
# spamassassin (the deliverability test scores our email against mass_mailing's). Install the
# missing ones when we may (root with apt-get); otherwise say how, since those tests fail
# without them.
set -eu
# command:package
NEEDED="chromium:chromium spamassassin:spamassassin"
missing=""
for pair in $NEEDED; do
    command="${pair%%:*}" package="${pair#*:}"
    if [ "$command" = chromium ] && command -v chromium-browser >/dev/null 2>&1; then
        continue
    fi
    command -v "$command" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "Missing Debian packages:$missing: install them (sudo apt-get install$missing)" \
        "or the UI tour and the deliverability test fail." >&2
fi

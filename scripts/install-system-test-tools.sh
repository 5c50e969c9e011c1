#!/usr/bin/env bash
# The two system packages some tests need: headless Chromium (the dashboard test) and
# docker-compose (validating docker-compose.yml). Installed with apt-get when missing and this
# runs as root on Debian/Ubuntu; otherwise a note is printed and those tests skip (or fail under
# SUPERLITE_REQUIRE_SERVICES=1).
set -uo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for tests: ${missing[*]}" >&2
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } \
    || echo "could not install ${missing[*]}; the tests that need them will skip (or fail under SUPERLITE_REQUIRE_SERVICES=1)" >&2
else
  echo "not installed: ${missing[*]} (Debian: sudo apt-get install ${missing[*]}); the tests that need them will skip" >&2
fi
exit 0

#!/bin/sh
# Make sure Debian's chromium is there for the browser tests. Installs it when we
# can (root with apt-get); otherwise says so, and the browser tests skip (or, in
# CI, fail) with that reason.
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests (about 20 s)..."
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
fi
echo "NOTE: chromium is not installed and could not be installed here;"
echo "      the browser tests in tests/e2e will be skipped. (apt-get install chromium)"
exit 0

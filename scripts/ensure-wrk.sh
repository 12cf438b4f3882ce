#!/bin/sh
# The benchmark's HTTP load client is Debian's wrk. Install it when we can (root
# with apt-get); otherwise say how, and stop: the benchmark cannot run without it.
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's wrk for the benchmark..."
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; then
    exit 0
  fi
fi
echo "The benchmark needs wrk, which is not installed and could not be installed here."
echo "Install it (apt-get install wrk) and run make bench again."
exit 1

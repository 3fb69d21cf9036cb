#!/usr/bin/env bash
# Installs what proxstack needs on Debian: the system packages (more with --test) and the npm packages.
# Idempotent: installs only what is missing. Not root: says exactly what to install and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
case "${1:-}" in
  "") ;;
  --test) mode=test ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac

# The product: git for the stacks repository; WireGuard, nftables and iproute2 for the in-process VPN.
pkgs=(git ca-certificates openssh-client iproute2 nftables wireguard-tools wireguard-go)
# The tests also run real OpenSSH servers in test hosts (what testhosts/ssh-host.ts TEST_HOST_TOOLS lists: sshd, and
# sudo and passwd for the ssh-harden hook inside them) and drive the portal in headless Chromium.
[ "$mode" = test ] && pkgs+=(openssh-server sudo passwd util-linux mount dash procps hostname coreutils libc-bin chromium curl)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: not root, so these Debian packages were not installed: ${missing[*]}" >&2
    echo "setup: run as root: apt-get install --no-install-recommends ${missing[*]}" >&2
    echo "setup: tests that need them will say they were skipped." >&2
  fi
fi

# npm ci on a fresh checkout or a changed lock file; otherwise the installed tree is current.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund
fi

# The web portal (portal/web → portal/web/dist, served by the portal at /): built when missing or older than its sources.
web_stale() {
  [ -f portal/web/dist/index.html ] || return 0
  [ -n "$(find portal/web/src portal/web/index.html portal/web/vite.config.ts package-lock.json -newer portal/web/dist/index.html -print -quit)" ]
}
if web_stale; then
  echo "setup: building the web portal"
  npm run build:web
fi
echo "setup: ready ($mode)"

#!/usr/bin/env bash
# Installs what the test suite needs beyond Python packages, only when it is missing: safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tmux >/dev/null 2>&1 || need+=(tmux)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test-deps: missing ${need[*]} (not root: tests that need them will skip)" >&2
  fi
fi

# A real Elasticsearch node for the store tests, unless CANH_ES_URL points at one already.
if [ -z "${CANH_ES_URL:-}" ] && [ -x scripts/elasticsearch.sh ]; then
  scripts/elasticsearch.sh start || { [ "${CI:-}" = "true" ] && exit 1; echo "test-deps: Elasticsearch did not start; its tests will skip" >&2; }
fi

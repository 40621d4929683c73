#!/usr/bin/env bash
# Installs what Hybrid needs on a Debian machine, once: the Debian packages named as arguments (only those missing),
# the local dotnet tools (Paket) and the NuGet packages. Safe to run again; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        echo "setup: missing Debian packages ${missing[*]}; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    fi
fi

if [ ! -f .paket/.restored ] || [ paket.lock -nt .paket/.restored ]; then
    echo "setup: restoring dotnet tools and NuGet packages (Paket)" >&2
    dotnet tool restore >&2
    dotnet paket restore >&2
    touch .paket/.restored
fi

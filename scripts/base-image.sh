#!/usr/bin/env bash
# Builds a base image locally when no registry can be reached to pull it:
#   scripts/base-image.sh python:3.11-slim
# A Debian bookworm root filesystem (python3 3.11, venv, pip, ca-certificates) made with
# mmdebstrap, with the host's CA bundle inside so that `pip install` works in builds on it,
# then `docker import`ed under the requested name. The tarball is cached.
set -euo pipefail
image="$1"
cache="${MODELPACK_CACHE:-$HOME/.cache/modelpack}/base-images"
tarball="$cache/bookworm-python3.tar"
mkdir -p "$cache"

if timeout 20 docker pull "$image" >/dev/null 2>&1; then
    echo "pulled $image"
    exit 0
fi

if [[ ! -f "$tarball" ]]; then
    mmdebstrap --quiet --variant=minbase --format=tar \
        --include=python3,python3-venv,python3-pip,ca-certificates \
        --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
        --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python"' \
        --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*' \
        bookworm "$tarball.tmp" http://deb.debian.org/debian
    mv "$tarball.tmp" "$tarball"
fi

docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
    --change 'CMD ["python3"]' \
    "$tarball" "$image"
echo "built $image from $tarball"

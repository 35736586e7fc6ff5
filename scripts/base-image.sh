#!/usr/bin/env bash
# Builds a base image locally when no registry can be reached to pull it:
#   scripts/base-image.sh python:3.11-slim
#   scripts/base-image.sh nginx:1.30
# Each stand-in is a Debian root filesystem made with mmdebstrap (tarball cached) and
# `docker import`ed under the requested name:
# - python:3.11-slim, the packages' base: bookworm's python3 3.11, venv, pip, ca-certificates,
#   with the host's CA bundle inside so that `pip install` works in builds on it;
# - nginx:1.30, the endpoints' routers: Debian's nginx 1.30 and its njs module (the official
#   image has both). Only Debian's testing suite has an nginx that new (keepalive_min_timeout,
#   which the routers need, came in 1.27.4; bookworm has 1.22, trixie 1.26).
set -euo pipefail
image="$1"
cache="${MODELPACK_CACHE:-$HOME/.cache/modelpack}/base-images"
mirror=http://deb.debian.org/debian
mkdir -p "$cache"

if timeout 20 docker pull "$image" >/dev/null 2>&1; then
    echo "pulled $image"
    exit 0
fi

case "$image" in
python:3.11-slim)
    tarball="$cache/bookworm-python3.tar"
    if [[ ! -f "$tarball" ]]; then
        mmdebstrap --quiet --variant=minbase --format=tar \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
            --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python"' \
            --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*' \
            bookworm "$tarball.tmp" "$mirror"
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
    ;;
nginx:1.30)
    tarball="$cache/forky-nginx.tar"
    if [[ ! -f "$tarball" ]]; then
        # A mirror that serves a snapshot of testing has a Release file past its Valid-Until
        # date: apt refuses it unless told to take it.
        mmdebstrap --quiet --variant=minbase --format=tar \
            --aptopt='Acquire::Check-Valid-Until "false"' \
            --include=nginx,libnginx-mod-http-js \
            --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*' \
            forky "$tarball.tmp" "$mirror"
        mv "$tarball.tmp" "$tarball"
    fi
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["nginx", "-g", "daemon off;"]' \
        "$tarball" "$image"
    version="$(docker run --rm "$image" nginx -v 2>&1)"
    if [[ "$version" != "nginx version: nginx/1.30."* ]]; then
        docker rmi "$image" >/dev/null
        echo "Debian's testing suite now has ${version#nginx version: }, not nginx 1.30:" \
            "remove $tarball and change the router's base image (ROUTER_BASE_IMAGE)" >&2
        exit 1
    fi
    ;;
*)
    echo "no recipe for a stand-in of $image: add one to $0, or make the image pullable" >&2
    exit 1
    ;;
esac
echo "built $image from $tarball"

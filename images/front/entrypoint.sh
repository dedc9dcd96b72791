#!/bin/sh
# Write nginx.conf from the template (ports and certificate paths of the environment), then run
# nginx in the foreground as this (unprivileged) user, everything writable under /tmp.
set -eu
conf=/tmp/nginx/nginx.conf
mkdir -p /tmp/nginx
sed -e "s|@HUB_TLS_PORT@|$WORKBENCH_FRONT_HUB_PORT|g" \
    -e "s|@SSO_TLS_PORT@|$WORKBENCH_FRONT_SSO_PORT|g" \
    -e "s|@HUB_PORT@|$WORKBENCH_HUB_PORT|g" \
    -e "s|@SSO_PORT@|$KC_HTTP_PORT|g" \
    -e "s|@CERT@|$FRONT_CERT_FILE|g" \
    -e "s|@KEY@|$FRONT_KEY_FILE|g" \
    /etc/nginx/s2p/nginx.conf.template > "$conf"
exec nginx -c "$conf" -g 'daemon off;'

#!/bin/sh
# With STACK_CA_FILE (the stack's own CA, a Swarm secret), the hub trusts it besides the system's
# CAs: Python's ssl (tornado, urllib) reads SSL_CERT_FILE, requests reads REQUESTS_CA_BUNDLE.
set -eu
if [ -n "${STACK_CA_FILE:-}" ]; then
    cat /etc/ssl/certs/ca-certificates.crt "$STACK_CA_FILE" > "$HOME/ca-bundle.pem"
    export SSL_CERT_FILE="$HOME/ca-bundle.pem" REQUESTS_CA_BUNDLE="$HOME/ca-bundle.pem"
fi
exec "$@"

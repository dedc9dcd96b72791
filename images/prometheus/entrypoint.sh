#!/bin/sh
# Prometheus on 127.0.0.1:$PROMETHEUS_PORT with the configuration of $PROMETHEUS_CONFIG (checked first,
# so that a bad file says why in the service's log instead of a restart loop without a reason).
set -eu
case "$PROMETHEUS_PORT" in ''|*[!0-9]*) echo "s2p-prometheus: PROMETHEUS_PORT must be a port, not '$PROMETHEUS_PORT'" >&2; exit 2;; esac
if [ ! -r "$PROMETHEUS_CONFIG" ]; then
  echo "s2p-prometheus: no readable configuration at $PROMETHEUS_CONFIG (written by workbench stack deploy)" >&2
  exit 2
fi
promtool check config "$PROMETHEUS_CONFIG" >&2
exec prometheus \
  --config.file="$PROMETHEUS_CONFIG" \
  --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
  --storage.tsdb.path=/var/lib/prometheus/metrics2 \
  --storage.tsdb.retention.time="$PROMETHEUS_RETENTION" \
  --web.console.libraries=/etc/prometheus/console_libraries \
  --web.console.templates=/etc/prometheus/consoles \
  --log.format=json

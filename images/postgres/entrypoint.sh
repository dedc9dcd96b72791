#!/bin/sh
# First start (empty volume): initdb with the superuser password of POSTGRES_PASSWORD_FILE, then one
# role and one database of the same name per word of POSTGRES_DATABASES (password: the same file).
# Every start: PostgreSQL on 127.0.0.1:POSTGRES_PORT only (host networking), scram-sha-256 logins.
set -eu
: "${POSTGRES_PASSWORD_FILE:?set POSTGRES_PASSWORD_FILE (a Swarm secret)}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "s2p-postgres: initialising $PGDATA (databases: $POSTGRES_DATABASES)"
    initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 --pwfile="$POSTGRES_PASSWORD_FILE" > /dev/null
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w start > /dev/null
    password=$(cat "$POSTGRES_PASSWORD_FILE")
    for db in $POSTGRES_DATABASES; do
        psql -v ON_ERROR_STOP=1 -q -h /tmp -U postgres -d postgres \
            -v name="$db" -v pw="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'pw';
CREATE DATABASE :"name" OWNER :"name";
SQL
    done
    pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -p "$POSTGRES_PORT" -k /tmp

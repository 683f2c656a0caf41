#!/bin/sh
# The container's entry point: bring the database up to date, then become the command.
# The database may still be starting (a fresh volume takes a few seconds), so the upgrade is
# retried for NEWSBOT_DB_WAIT seconds before giving up.
set -eu

wait_left="${NEWSBOT_DB_WAIT:-30}"
until newsbot db upgrade; do
    wait_left=$((wait_left - 1))
    if [ "$wait_left" -le 0 ]; then
        echo "newsbot-entrypoint: the database is not reachable; giving up" >&2
        exit 1
    fi
    echo "newsbot-entrypoint: waiting for the database" >&2
    sleep 1
done

# exec replaces this shell: the bot becomes PID 1 and gets `docker stop`'s SIGTERM itself.
exec "$@"

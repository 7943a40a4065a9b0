#!/bin/sh
# runner-lab RabbitMQ entrypoint: runs as root, fixes ownership, makes the
# Erlang cookie readable for the rabbitmq user even when it is a read-only
# bind mount owned by root, turns RABBITMQ_DEFAULT_USER/PASS/VHOST into config
# and execs the server (or any other command) as the rabbitmq user.
set -eu

if [ "${1:-}" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
    cookie=/var/lib/rabbitmq/.erlang.cookie
    # Everything under the data dir belongs to rabbitmq (a read-only
    # mount, such as the cookie often is, keeps its owner).
    find /var/lib/rabbitmq \! -user rabbitmq \
        -exec chown rabbitmq:rabbitmq '{}' + 2>/dev/null || true

    if [ -e "$cookie" ] && ! setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups test -r "$cookie"; then
        # Read-only mount the rabbitmq user cannot read: use a private copy
        # (Erlang finds the cookie in $HOME).
        home=/run/rabbitmq-home
        mkdir -p "$home"
        cp "$cookie" "$home/.erlang.cookie"
        chown -R rabbitmq:rabbitmq "$home"
        chmod 0700 "$home"
        chmod 0400 "$home/.erlang.cookie"
        export HOME="$home"
    fi

    # The official image's variables, written where conf.d is not needed to
    # be writable: a main config file in front of conf.d (conf.d wins).
    if [ -n "${RABBITMQ_DEFAULT_USER:-}${RABBITMQ_DEFAULT_PASS:-}${RABBITMQ_DEFAULT_VHOST:-}" ]; then
        generated=/run/rabbitmq-env/rabbitmq.conf
        mkdir -p /run/rabbitmq-env
        : > "$generated"
        if [ -f /etc/rabbitmq/rabbitmq.conf ]; then
            cat /etc/rabbitmq/rabbitmq.conf >> "$generated"
            echo >> "$generated"
        fi
        [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER" >> "$generated"
        [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS" >> "$generated"
        [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && echo "default_vhost = $RABBITMQ_DEFAULT_VHOST" >> "$generated"
        chown -R rabbitmq:rabbitmq /run/rabbitmq-env
        chmod 0600 "$generated"
        export RABBITMQ_CONFIG_FILE="$generated"
    fi

    shift
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
        /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi

exec "$@"

#!/bin/sh
# The router's command: nginx on the live configuration, once that configuration loads.
#
# One that does not load names replicas that are not running: a stack whose containers were
# stopped is being started again, or the engine restarted. Until it loads, the closed
# configuration beside it (when there is one) serves: the health route answers, the rest gets
# 503. The live one takes over as soon as `nginx -t` passes, whether its replicas came back
# or a traffic update replaced it (such an update's reload reaches the closed nginx, which
# shares its pid file, and changes nothing).
set -u
LIVE=/etc/modelpack/nginx.conf
CLOSED=/etc/modelpack/closed.conf

if [ -f "$CLOSED" ] && ! nginx -t -q -c "$LIVE" 2>/dev/null; then
    echo "router: $LIVE does not load yet (it names a replica that is not running);" \
        "answering 503 until it does" >&2
    nginx -c "$CLOSED" -g "daemon off;" &
    closed=$!
    trap 'kill -QUIT "$closed"; wait "$closed"; exit 0' QUIT TERM INT
    until nginx -t -q -c "$LIVE" 2>/dev/null; do
        sleep 1
    done
    kill -QUIT "$closed"
    wait "$closed"
    trap - QUIT TERM INT
    echo "router: $LIVE loads now" >&2
fi
exec nginx -c "$LIVE" -g "daemon off;"

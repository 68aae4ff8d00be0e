#!/usr/bin/env bash
# The production-like stack, for manual testing on this machine (plain http on loopback):
# PostgreSQL + Redis (.ci/services.sh), gunicorn, a Celery worker and Celery beat, DEBUG off.
#
#   bash .ci/stack.sh start    (make stack)       (re)start everything; prints the URL
#   bash .ci/stack.sh stop     (make stack-stop)  stop everything, drop the database
#
# Environment: PORT (gunicorn, default 8000); PGPORT / REDIS_PORT (see .ci/services.sh).
# Everything lives in var/stack/: pid files, logs, the env file, the secret key and the pseudonym
# secret (both kept across runs), static/ and media/. The database is throwaway: `stop` deletes it.
# After `start`, `source var/stack/env` gives a shell whose manage.py talks to the stack.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
STACK=$ROOT/var/stack
SERVICES_DIR=$STACK/services
PY=$ROOT/.venv/bin/python
PORT="${PORT:-8000}"
PROCS=(gunicorn celery-worker celery-beat)

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
usage() {
    printf 'usage: bash %s start|stop\n' "$0" >&2
    exit 2
}

show_log_tail() {
    local file=$1
    if [[ -s $file ]]; then
        log "last lines of $file:"
        tail -n 40 -- "$file" | sed 's/^/[stack]   | /' >&2
    else
        log "($file is missing or empty)"
    fi
}

# What the command line of each process must contain (guards against reused pids).
proc_pattern() {
    case $1 in
    gunicorn) echo gunicorn ;;
    celery-worker) echo 'celery.* worker' ;;
    celery-beat) echo 'celery.* beat' ;;
    esac
}

proc_is() {
    [[ $1 =~ ^[0-9]+$ && -r /proc/$1/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" | grep -qE -- "$2"
}

# True while process $1 exists and is not a zombie.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Pid of a running stack process, from its pid file; empty when not running.
running_pid() {
    local pid
    pid=$(head -n 1 -- "$STACK/$1.pid" 2>/dev/null || true)
    if proc_is "$pid" "$(proc_pattern "$1")"; then
        echo "$pid"
    fi
}

# TERM the three processes, KILL what is left after 10 s (with their process groups:
# each was started with setsid, so its workers share its pid as process group).
stop_procs() {
    local name pid pgid pids=() leaders=() deadline
    for name in "${PROCS[@]}"; do
        pid=$(running_pid "$name")
        if [[ -n $pid ]]; then
            log "stopping $name (pid $pid)"
            pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
            if [[ $pgid == "$pid" ]]; then
                leaders+=("$pid")
            fi
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        else
            log "$name is not running"
        fi
    done
    deadline=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
        while alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if alive "$pid"; then
            log "pid $pid did not stop within 10 s, killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Leftover children (gunicorn workers, celery pool processes) of a dead parent.
    for pid in "${leaders[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    for name in "${PROCS[@]}"; do
        rm -f -- "$STACK/$name.pid"
    done
}

# Start "$@" in the background, detached (own session), output to var/stack/$name.log.
spawn() {
    local name=$1 pid
    shift
    : >"$STACK/$name.log"
    setsid "$@" </dev/null >>"$STACK/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STACK/$name.pid"
    log "started $name (pid $pid, log var/stack/$name.log)"
}

manage() {
    log "manage.py $*"
    "$PY" manage.py "$@" </dev/null || die "manage.py $* failed (services are still up: bash .ci/stack.sh stop)"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_start() {
    [[ $PORT =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
    [[ -x $PY ]] || die "no virtualenv at $ROOT/.venv: create it first (make setup)"
    [[ -f $ROOT/manage.py ]] || die "no manage.py in $ROOT"
    cd -- "$ROOT"
    mkdir -p -- "$STACK"

    local name
    for name in "${PROCS[@]}"; do
        if [[ -n $(running_pid "$name") ]]; then
            log "a previous stack is still running: stopping it first"
            stop_procs
            break
        fi
    done
    if port_in_use "$PORT"; then
        die "port $PORT is already in use on 127.0.0.1 (choose another with PORT=...)"
    fi

    bash "$ROOT/.ci/services.sh" start "$SERVICES_DIR" >/dev/null
    # shellcheck source=/dev/null
    source "$SERVICES_DIR/env"

    if [[ ! -s $STACK/secret_key ]]; then
        log "generating var/stack/secret_key"
        (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$STACK/secret_key")
    fi
    SECRET_KEY=$(head -n 1 -- "$STACK/secret_key")
    export SECRET_KEY
    # Pseudonyms (stored user and author ids) are keyed by their own secret, kept across runs like the key.
    if [[ ! -s $STACK/pseudonym_secret ]]; then
        log "generating var/stack/pseudonym_secret"
        (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$STACK/pseudonym_secret")
    fi
    PSEUDONYM_SECRET=$(head -n 1 -- "$STACK/pseudonym_secret")
    export PSEUDONYM_SECRET
    export DEBUG=0
    export ALLOWED_HOSTS=127.0.0.1,localhost
    export SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
    export STATIC_ROOT=$STACK/static
    export MEDIA_ROOT=$STACK/media

    local var
    {
        echo "# written by .ci/stack.sh start: source it to run manage.py against the stack"
        for var in DATABASE_URL REDIS_URL CELERY_BROKER_URL DEBUG SECRET_KEY PSEUDONYM_SECRET ALLOWED_HOSTS \
            SECURE_SSL_REDIRECT SESSION_COOKIE_SECURE CSRF_COOKIE_SECURE STATIC_ROOT MEDIA_ROOT; do
            printf "export %s='%s'\n" "$var" "${!var//\'/\'\\\'\'}"
        done
    } >"$STACK/env"
    chmod 600 -- "$STACK/env"

    manage migrate --noinput
    manage collectstatic --noinput
    manage load_demo
    manage create_demo_users --force # DEBUG is off here: demo accounts on a loopback-only stack, on purpose

    # gunicorn's control socket (for gunicornc) goes to var/stack, not ~/.gunicorn; a unix
    # socket path must stay under ~107 bytes.
    local control=(--control-socket "$STACK/gunicorn.ctl")
    if ((${#STACK} > 90)); then
        control=(--no-control-socket)
    fi
    spawn gunicorn "$PY" -m gunicorn debunk.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 \
        --access-logfile - --error-logfile - "${control[@]}"
    spawn celery-worker "$PY" -m celery -A debunk worker --loglevel=info --concurrency=2
    spawn celery-beat "$PY" -m celery -A debunk beat --loglevel=info \
        --schedule "$STACK/celerybeat-schedule"

    local url=http://127.0.0.1:$PORT/ code=000 deadline=$((SECONDS + 30)) pid
    log "waiting for $url"
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" </dev/null || true)
        [[ $code == 000 ]] || break
        pid=$(running_pid gunicorn)
        if [[ -z $pid ]]; then
            show_log_tail "$STACK/gunicorn.log"
            die "gunicorn exited (bash .ci/stack.sh stop cleans up)"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail "$STACK/gunicorn.log"
            die "$url did not answer within 30 s (bash .ci/stack.sh stop cleans up)"
        fi
        sleep 0.5
    done
    if ((code >= 500)); then
        show_log_tail "$STACK/gunicorn.log"
        die "$url answered HTTP $code (the stack is left running: bash .ci/stack.sh stop)"
    fi
    log "$url answered HTTP $code"

    # The worker logs "celery@HOST ready." once it consumes tasks.
    deadline=$((SECONDS + 30))
    until grep -q ' ready\.' "$STACK/celery-worker.log" 2>/dev/null; do
        if [[ -z $(running_pid celery-worker) ]] || ((SECONDS >= deadline)); then
            show_log_tail "$STACK/celery-worker.log"
            die "the celery worker is not ready (the stack is left running: bash .ci/stack.sh stop)"
        fi
        sleep 0.5
    done
    for name in "${PROCS[@]}"; do
        if [[ -z $(running_pid "$name") ]]; then
            show_log_tail "$STACK/$name.log"
            die "$name exited (bash .ci/stack.sh stop cleans up)"
        fi
    done

    cat <<EOF

The stack is up: $url   (admin: ${url}admin/; demo accounts are listed above)
  logs:          var/stack/gunicorn.log, var/stack/celery-worker.log, var/stack/celery-beat.log,
                 var/stack/services/postgres.log, var/stack/services/redis.log
  environment:   source var/stack/env   (then .venv/bin/python manage.py ... talks to the stack)
  stop it with:  make stack-stop   (or: bash .ci/stack.sh stop)
EOF
}

cmd_stop() {
    stop_procs
    bash "$ROOT/.ci/services.sh" stop "$SERVICES_DIR"
    log "stopped (logs, secret key and pseudonym secret kept in var/stack/)"
}

(($# == 1)) || usage
case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
*) usage ;;
esac

#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers for tests and manual runs.
#
#   bash .ci/services.sh start DIR   (re)start both servers, all their state in DIR; writes DIR/env
#   bash .ci/services.sh stop  DIR   stop both servers (if running) and remove DIR
#
# Environment:
#   PGPORT            PostgreSQL TCP port on 127.0.0.1      (default 54329)
#   REDIS_PORT        Redis TCP port on 127.0.0.1           (default 63799)
#   SERVICES_TIMEOUT  seconds to wait for each server        (default 60)
#
# `start` installs postgresql / redis-server with apt when their binaries are missing
# (needs root, or passwordless sudo). Log lines go to stderr, prefixed "[services]";
# the export lines of DIR/env go to stdout, so both of these work:
#   bash .ci/services.sh start "$dir" && source "$dir/env"
#   eval "$(bash .ci/services.sh start "$dir")"
# The data is throwaway: fsync is off, and every `start` begins with empty servers.
set -euo pipefail

PGPORT="${PGPORT:-54329}"
REDIS_PORT="${REDIS_PORT:-63799}"
TIMEOUT="${SERVICES_TIMEOUT:-60}"
MARKER=.debunk-services   # marks a DIR made by this script: only such a DIR is ever wiped

# Connection settings inherited from the caller must not redirect our admin commands.
unset PGHOST PGHOSTADDR PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGSSLMODE \
      PGOPTIONS PGDATA REDISCLI_AUTH

log() { printf '[services] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
usage() {
    printf 'usage: bash %s start|stop DIR\n' "$0" >&2
    exit 2
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command with its output (stdout and stderr) indented on stderr; keeps its exit status.
prefixed() {
    "$@" </dev/null 2>&1 | sed -u 's/^/[services]   /' >&2
}

show_log_tail() {
    local file=$1
    if [[ -s $file ]]; then
        log "last lines of $file:"
        tail -n 40 -- "$file" | sed 's/^/[services]   | /' >&2
    else
        log "($file is missing or empty)"
    fi
}

# Newest /usr/lib/postgresql/*/bin that has initdb and pg_ctl.
find_pg_bin() {
    local d
    while IFS= read -r d; do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            printf '%s\n' "$d"
            return 0
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    return 1
}

have_redis() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }

ensure_installed() {
    local pkgs=() sudo=()
    find_pg_bin >/dev/null || pkgs+=(postgresql)
    have_redis || pkgs+=(redis-server)
    ((${#pkgs[@]})) || return 0
    if ! is_root; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "${pkgs[*]} not installed and not root: run 'apt-get install -y postgresql redis-server' as root"
        fi
    fi
    log "installing ${pkgs[*]} with apt (binaries not found)"
    prefixed "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -o DPkg::Lock::Timeout=300 update || die "apt-get update failed"
    prefixed "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${pkgs[@]}" ||
        die "apt-get install ${pkgs[*]} failed"
    find_pg_bin >/dev/null || die "postgresql installed, but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
    have_redis || die "redis-server installed, but redis-server/redis-cli not on PATH"
}

# Run a command as the user that owns the PostgreSQL files: postgres when we are root
# (postgres refuses to run as root), ourselves otherwise. cd / so that an unreadable
# working directory (e.g. /root) does not bother it.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}
own_pg() { if is_root; then chown postgres:postgres -- "$@"; fi; }

# True when the command line of process $1 contains the string $2 (guards against reused
# pids, and against stopping some other postgres or redis of this machine).
proc_is() {
    [[ $1 =~ ^[0-9]+$ && -r /proc/$1/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# True while process $1 exists and is not a zombie.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Wait up to $2 seconds for process $1 to disappear.
wait_gone() {
    local pid=$1 tries=$(($2 * 5))
    while alive "$pid"; do
        ((tries-- > 0)) || return 1
        sleep 0.2
    done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

read_state() {
    sed -n "s/^$1=//p" "$DIR/services.state" 2>/dev/null | head -n 1 || true
}

stop_redis() {
    local pidfile=$DIR/redis.pid pid port
    pid=$(head -n 1 -- "$pidfile" 2>/dev/null || true)
    port=$(read_state redis_port)
    # A daemonized redis-server shows itself as "redis-server 127.0.0.1:PORT".
    if proc_is "$pid" "redis-server 127.0.0.1:${port}"; then
        log "stopping redis (pid $pid)"
        if have_redis; then
            timeout 10 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave </dev/null >/dev/null 2>&1 || true
        fi
        if ! wait_gone "$pid" 10; then
            kill -TERM "$pid" 2>/dev/null || true
            if ! wait_gone "$pid" 10; then
                log "redis did not stop, killing it"
                kill -KILL "$pid" 2>/dev/null || true
                wait_gone "$pid" 5 || log "WARNING: redis pid $pid is still there"
            fi
        fi
    else
        log "redis is not running"
    fi
    rm -f -- "$pidfile"
}

stop_pg() {
    local data=$DIR/pg pid bin
    pid=$(head -n 1 -- "$data/postmaster.pid" 2>/dev/null || true)
    if proc_is "$pid" "postgres -D $data"; then
        log "stopping postgres (pid $pid)"
        if bin=$(find_pg_bin); then
            prefixed as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop || true
        fi
        if ! wait_gone "$pid" 1; then
            kill -INT "$pid" 2>/dev/null || true # fast shutdown
            if ! wait_gone "$pid" 20; then
                log "postgres did not stop, killing it"
                kill -QUIT "$pid" 2>/dev/null || true # immediate shutdown
                wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
                wait_gone "$pid" 5 || log "WARNING: postgres pid $pid is still there"
            fi
        fi
    else
        log "postgres is not running"
    fi
}

# Make every directory from / down to $DIR searchable by the postgres user (root only):
# mktemp -d directories are 0700, and postgres must reach DIR/pg.
ensure_traversable() {
    is_root || return 0
    local path="" part parts
    IFS=/ read -r -a parts <<<"${DIR#/}"
    for part in "${parts[@]}"; do
        [[ -n $part ]] || continue
        path+="/$part"
        if ! runuser -u postgres -- test -x "$path" 2>/dev/null; then
            log "chmod o+x $path (so that the postgres user can reach $DIR)"
            chmod o+x -- "$path"
        fi
    done
    as_pg test -w "$DIR/pg" || die "the postgres user cannot write to $DIR/pg"
}

start_pg() {
    local bin=$1 data=$DIR/pg sockdir=$DIR/run conf
    mkdir -p -- "$data" "$sockdir"
    chmod 700 -- "$data"
    chmod 755 -- "$sockdir"
    : >"$DIR/postgres.log"
    own_pg "$data" "$sockdir" "$DIR/postgres.log"
    ensure_traversable

    log "initdb $data ($bin)"
    if ! as_pg "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C --auth=trust \
        </dev/null >"$DIR/initdb.log" 2>&1; then
        show_log_tail "$DIR/initdb.log"
        die "initdb failed"
    fi

    # A unix socket path is limited to ~107 bytes; without one, clients just use TCP.
    if ((${#sockdir} + 20 > 107)); then
        log "socket directory path too long for a unix socket; PostgreSQL listens on TCP only"
        sockdir=""
    fi
    cat >"$data/pg_hba.conf" <<'EOF'
# written by .ci/services.sh: throwaway server, no passwords checked
local   all             all                     trust
host    all             all     127.0.0.1/32    trust
local   replication     all                     trust
host    replication     all     127.0.0.1/32    trust
EOF
    conf=$data/postgresql.conf
    cat >>"$conf" <<EOF

# --- added by .ci/services.sh: throwaway server, durability off ---
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '${sockdir//\'/\'\'}'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    own_pg "$data/pg_hba.conf" "$conf"

    log "starting postgres on 127.0.0.1:$PGPORT"
    if ! prefixed as_pg "$bin/pg_ctl" -D "$data" -l "$DIR/postgres.log" -w -t "$TIMEOUT" start; then
        show_log_tail "$DIR/postgres.log"
        die "postgres did not start (log: $DIR/postgres.log)"
    fi
}

start_redis() {
    mkdir -p -- "$DIR/redis"
    log "starting redis on 127.0.0.1:$REDIS_PORT"
    if ! prefixed redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
        --save '' --appendonly no --dir "$DIR/redis" \
        --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"; then
        show_log_tail "$DIR/redis.log"
        die "redis-server did not start (log: $DIR/redis.log)"
    fi
}

wait_pg() {
    local bin=$1 deadline=$((SECONDS + TIMEOUT))
    until "$bin/pg_isready" -q -t 2 -h 127.0.0.1 -p "$PGPORT" </dev/null; do
        if ((SECONDS >= deadline)); then
            show_log_tail "$DIR/postgres.log"
            die "postgres did not answer on 127.0.0.1:$PGPORT within ${TIMEOUT}s"
        fi
        sleep 0.2
    done
    log "postgres is ready"
}

wait_redis() {
    local deadline=$((SECONDS + TIMEOUT)) pid
    until [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping </dev/null 2>/dev/null) == PONG ]]; do
        pid=$(head -n 1 -- "$DIR/redis.pid" 2>/dev/null || true)
        # Give up early when redis has already died (its log says so, or its pid is gone).
        if ((SECONDS >= deadline)) || grep -qE 'aborting|FATAL' "$DIR/redis.log" 2>/dev/null ||
            { [[ -n $pid ]] && ! proc_is "$pid" "redis-server 127.0.0.1:$REDIS_PORT"; }; then
            show_log_tail "$DIR/redis.log"
            die "redis did not answer on 127.0.0.1:$REDIS_PORT (waited up to ${TIMEOUT}s)"
        fi
        sleep 0.2
    done
    log "redis is ready"
}

create_db() {
    local bin=$1
    log "creating role and database debunk"
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres \
        -c "CREATE ROLE debunk WITH LOGIN CREATEDB PASSWORD 'debunk'" \
        -c "CREATE DATABASE debunk OWNER debunk" </dev/null >&2 ||
        die "could not create role/database debunk"
    PGPASSWORD=debunk "$bin/psql" -X -q -At -h 127.0.0.1 -p "$PGPORT" -U debunk -d debunk \
        -c "SELECT 1" </dev/null >/dev/null || die "cannot connect as debunk to database debunk"
}

# On a failed start, stop whatever did start, so that nothing is left running.
on_start_exit() {
    local rc=$?
    if ((rc != 0)); then
        log "start failed; stopping what was started (logs are kept in $DIR)"
        stop_redis || true
        stop_pg || true
    fi
    exit "$rc"
}

cmd_start() {
    [[ $PGPORT =~ ^[0-9]+$ ]] || die "PGPORT must be a number, got '$PGPORT'"
    [[ $REDIS_PORT =~ ^[0-9]+$ ]] || die "REDIS_PORT must be a number, got '$REDIS_PORT'"
    [[ $TIMEOUT =~ ^[0-9]+$ ]] || die "SERVICES_TIMEOUT must be a number of seconds, got '$TIMEOUT'"
    if [[ -e $DIR && ! -d $DIR ]]; then
        die "$DIR exists and is not a directory"
    fi
    if [[ -d $DIR && ! -e $DIR/$MARKER && -n $(ls -A -- "$DIR") ]]; then
        die "$DIR is not empty and was not made by services.sh; refusing to use it"
    fi

    ensure_installed
    local bin
    bin=$(find_pg_bin)

    if [[ -e $DIR/$MARKER ]]; then
        log "cleaning up a previous run in $DIR"
        stop_redis
        stop_pg
        rm -rf -- "$DIR/pg" "$DIR/redis" "$DIR/run" "$DIR/env" "$DIR/services.state" \
            "$DIR/redis.pid" "$DIR/redis.log" "$DIR/postgres.log" "$DIR/initdb.log"
    fi

    if port_in_use "$PGPORT"; then
        die "port $PGPORT is already in use on 127.0.0.1 (choose another with PGPORT=...)"
    fi
    if port_in_use "$REDIS_PORT"; then
        die "port $REDIS_PORT is already in use on 127.0.0.1 (choose another with REDIS_PORT=...)"
    fi

    mkdir -p -- "$DIR"
    chmod 755 -- "$DIR"
    touch -- "$DIR/$MARKER"
    printf 'pgport=%s\nredis_port=%s\n' "$PGPORT" "$REDIS_PORT" >"$DIR/services.state"

    trap on_start_exit EXIT
    start_pg "$bin"
    start_redis
    wait_pg "$bin"
    wait_redis
    create_db "$bin"
    trap - EXIT

    cat >"$DIR/env" <<EOF
# written by .ci/services.sh start $DIR
export DATABASE_URL=postgres://debunk:debunk@127.0.0.1:$PGPORT/debunk
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export CELERY_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/1
EOF
    log "up: postgres 127.0.0.1:$PGPORT, redis 127.0.0.1:$REDIS_PORT; logs in $DIR"
    log "environment written to $DIR/env:"
    grep '^export ' "$DIR/env"
}

cmd_stop() {
    if [[ ! -e $DIR ]]; then
        log "$DIR does not exist: nothing to stop"
        return 0
    fi
    stop_redis || true
    stop_pg || true
    if [[ -e $DIR/$MARKER ]]; then
        if rm -rf -- "$DIR"; then
            log "removed $DIR"
        else
            log "WARNING: could not remove all of $DIR"
        fi
    elif rmdir -- "$DIR" 2>/dev/null; then
        log "removed empty $DIR"
    else
        log "WARNING: $DIR was not made by services.sh; left in place"
    fi
}

(($# == 2)) || usage
[[ -n $2 ]] || usage
DIR=$(realpath -m -- "$2")
[[ $DIR != / ]] || die "refusing to use / as DIR"

case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
*) usage ;;
esac

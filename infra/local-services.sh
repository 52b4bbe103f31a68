#!/usr/bin/env bash
# Makes the local services the project needs answer on 127.0.0.1, idempotently:
#   - PostgreSQL (started when installed but stopped), the project databases, and the pgvector extension
#     (built from Debian trixie's source package when `CREATE EXTENSION vector` fails);
#   - Redis (started when installed but stopped).
# Used by `npm run setup` and by `.ci/run`. A second run changes nothing and takes about a second.
set -euo pipefail

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGPORT_NUM=${PGPORT_NUM:-5432}
PGUSER_NAME=${PGUSER_NAME:-postgres}
DATABASES=${DATABASES:-"retail retail_bench"}
REDIS_PORT_NUM=${REDIS_PORT_NUM:-6379}

log() { printf '[local-services] %s\n' "$*"; }
die() { printf '[local-services] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U "$PGUSER_NAME" "$@"; }

# ---------------------------------------------------------------- PostgreSQL
pg_up() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" >/dev/null 2>&1; }
if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL does not answer on $PGHOST_ADDR:$PGPORT_NUM and is not installed (install postgresql, or point DATABASE_URL at a server)"
  major=$(ls /etc/postgresql | sort -n | tail -1)
  log "starting PostgreSQL $major"
  as_root pg_ctlcluster --skip-systemctl-redirect "$major" main start
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  pg_up || die "PostgreSQL did not start"
fi
PG_MAJOR=$(psql_admin -d postgres -Atc "show server_version_num" | cut -c1-2)
log "PostgreSQL $PG_MAJOR answers on $PGHOST_ADDR:$PGPORT_NUM"

for db in $DATABASES; do
  if [ "$(psql_admin -d postgres -Atc "select 1 from pg_database where datname = '$db'")" != "1" ]; then
    log "creating database $db"
    psql_admin -d postgres -c "create database \"$db\""
  fi
done

build_pgvector() {
  log "pgvector is not installed: building it from Debian's source package (about 15 s)"
  export DEBIAN_FRONTEND=noninteractive
  # The build tools first (bookworm's), so that nothing can fail while the trixie list below is in place.
  dpkg -s "postgresql-server-dev-$PG_MAJOR" >/dev/null 2>&1 || as_root apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" make gcc dpkg-dev >/dev/null
  local src=/etc/apt/sources.list.d/retail-pgvector-src.sources
  # For the time of `apt-get source` only (removed below).
  as_root tee "$src" >/dev/null <<'SRC'
# Added by the retail recommender's infra/local-services.sh while it fetches pgvector's source package
# (bookworm has no pgvector); removed once fetched.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local work pg_config="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
  work=$(mktemp -d)
  chmod 755 "$work" # apt downloads as the _apt user when it can
  local fetched=0
  # Whatever fails here, the trixie source list goes again and apt forgets it: left in place, apt would
  # report trixie's source packages (docker-compose 2.x among them) as if their binaries were installable.
  if as_root apt-get update -qq && (cd "$work" && apt-get source -qq pgvector >/dev/null 2>&1); then fetched=1; fi
  as_root rm -f "$src"
  as_root apt-get update -qq
  [ "$fetched" = 1 ] || die "apt-get source pgvector failed (is deb.debian.org reachable?)"
  (cd "$work"/pgvector-*/ && make -s PG_CONFIG="$pg_config" >/dev/null && as_root make -s install PG_CONFIG="$pg_config" >/dev/null)
  rm -rf "$work"
}

first_db=${DATABASES%% *}
vector_ok() { psql_admin -d "$first_db" -c "create extension if not exists vector" -c "select '[1,2]'::vector" >/dev/null 2>&1; }
if ! vector_ok; then
  build_pgvector
  vector_ok || die "pgvector was built but CREATE EXTENSION vector still fails"
fi
log "pgvector $(psql_admin -d "$first_db" -Atc "select extversion from pg_extension where extname = 'vector'") is available"

# ---------------------------------------------------------------- Redis
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT_NUM" ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  command -v redis-server >/dev/null || die "Redis does not answer on 127.0.0.1:$REDIS_PORT_NUM and is not installed (install redis-server, or point REDIS_URL at a server)"
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT_NUM" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/retail.log
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
  redis_up || die "Redis did not start"
fi
log "Redis $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT_NUM" info server | tr -d '\r' | awk -F: '/^redis_version/ {print $2}') answers on 127.0.0.1:$REDIS_PORT_NUM"

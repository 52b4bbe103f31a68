#!/usr/bin/env bash
# Container health check: `bash infra/docker/healthcheck.sh URL [TIMEOUT_S]` exits 0 when GET URL (http, no TLS)
# answers 2xx within the timeout (default 4 s), else prints why and exits 1. Bash alone (its /dev/tcp), no
# process to start: Docker runs it every second while the containers start, and a Node process each time would
# take a quarter of a core per container from the starts it waits for.
url="${1:-}"
timeout="${2:-4}"
if [[ ! "$url" =~ ^http://([^/:]+):([0-9]+)(/.*)?$ ]]; then
  echo "usage: bash infra/docker/healthcheck.sh http://HOST:PORT/PATH [TIMEOUT_S]" >&2
  exit 2
fi
host="${BASH_REMATCH[1]}" port="${BASH_REMATCH[2]}" path="${BASH_REMATCH[3]:-/}"
if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "$url: connection refused" >&2
  exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&3
if ! IFS= read -r -t "$timeout" status <&3; then
  echo "$url: no answer within ${timeout} s" >&2
  exit 1
fi
if [[ "$status" =~ ^HTTP/[0-9.]+\ 2[0-9][0-9] ]]; then exit 0; fi
echo "$url answered ${status%$'\r'}" >&2
exit 1

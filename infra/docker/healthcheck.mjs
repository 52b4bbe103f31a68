#!/usr/bin/env node
// Container health check (the slim Node image has no curl): `node infra/docker/healthcheck.mjs URL [TIMEOUT_MS]`
// exits 0 when GET URL answers 2xx within the timeout (default 4000 ms), else prints why and exits 1.
const [url, timeoutArg = '4000'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node infra/docker/healthcheck.mjs URL [TIMEOUT_MS]');
  process.exit(2);
}
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(Number(timeoutArg)), redirect: 'manual' });
  await response.body?.cancel();
  if (response.status >= 200 && response.status < 300) process.exit(0);
  console.error(`${url} answered HTTP ${response.status}`);
} catch (error) {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}${cause}`);
}
process.exit(1);

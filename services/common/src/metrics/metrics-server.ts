import { createServer, type Server } from 'node:http';
import type { ServiceMetrics } from './service-metrics.js';

/**
 * A worker's small HTTP server: GET /metrics (Prometheus text) and GET /health (200 while the process
 * serves; the body says whether its checks pass). For services that have no HTTP server of their own.
 */
export async function startMetricsServer(
  port: number,
  metrics: ServiceMetrics,
  health: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/metrics') {
          const body = await metrics.metrics();
          res.writeHead(200, { 'content-type': metrics.contentType }).end(body);
        } else if (req.method === 'GET' && req.url === '/health') {
          const ok = await health();
          res
            .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', service: metrics.service }));
        } else {
          res
            .writeHead(404, { 'content-type': 'application/json' })
            .end(JSON.stringify({ statusCode: 404, error: 'Not Found', message: 'try /metrics or /health' }));
        }
      } catch {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"statusCode":500,"message":"internal error"}');
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', resolve);
  });
  return server;
}

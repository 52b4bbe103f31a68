import {
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { type Observable, tap } from 'rxjs';
import type { ServiceMetrics } from '@retail/common';
import { METRICS } from '@retail/common/nest';

/** Times every message handler of the microservice, by pattern and outcome. */
@Injectable()
export class RpcMetricsInterceptor implements NestInterceptor {
  constructor(@Inject(METRICS) private readonly metrics: ServiceMetrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const pattern =
      context.switchToRpc().getContext<{ getPattern?: () => string }>().getPattern?.() ?? 'unknown';
    const stop = this.metrics.rpcDuration.startTimer({ pattern });
    return next
      .handle()
      .pipe(tap({ next: () => stop({ outcome: 'success' }), error: () => stop({ outcome: 'error' }) }));
  }
}

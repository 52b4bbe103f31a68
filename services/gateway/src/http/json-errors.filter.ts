import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { ErrorBody } from '@retail/contracts';
import type { FastifyReply } from 'fastify';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Every error leaves as JSON `{statusCode, error, message}` with a status that says what happened;
 * never a stack trace. Unexpected errors are logged here and answered with a plain 500.
 */
@Catch()
export class JsonErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const body = this.toBody(exception);
    void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      let message = exception.message;
      if (typeof response === 'object' && response !== null && 'message' in response) {
        const m = response.message;
        message = Array.isArray(m) ? m.map(String).join('; ') : String(m);
      }
      return { statusCode, error: REASONS[statusCode] ?? 'Error', message };
    }
    const status = (exception as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Errors Fastify raises itself (a malformed URL, a body too large, ...).
      return { statusCode: status, error: REASONS[status] ?? 'Error', message: (exception as Error).message };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    );
    return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, error: REASONS[500]!, message: 'internal error' };
  }
}

import { RpcException } from '@nestjs/microservices';
import type { RpcErrorPayload } from '@retail/contracts';

export const notFound = (message: string) =>
  new RpcException({ code: 'not_found', message } satisfies RpcErrorPayload);
export const badRequest = (message: string) =>
  new RpcException({ code: 'bad_request', message } satisfies RpcErrorPayload);

import { describe, expect, it } from '@jest/globals';
import { BadRequestException, HttpException, NotFoundException, type ArgumentsHost } from '@nestjs/common';
import { JsonErrorsFilter } from '../src/http/json-errors.filter.js';

/** Runs the filter on `exception` and returns what it sent. */
function answer(exception: unknown): { status: number; body: unknown; contentType: string } {
  const sent = { status: 0, body: undefined as unknown, contentType: '' };
  const reply = {
    status(code: number) {
      sent.status = code;
      return reply;
    },
    header(name: string, value: string) {
      if (name === 'content-type') sent.contentType = value;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
  const filter = new JsonErrorsFilter();
  // the log line of an unexpected error is the filter's business, not this test's output
  (filter as unknown as { logger: { error: () => void } }).logger = { error: () => undefined };
  filter.catch(exception, host);
  return sent;
}

describe('JsonErrorsFilter: every error leaves as {statusCode, error, message}', () => {
  it('keeps the status and message of an HTTP exception', () => {
    expect(answer(new NotFoundException('user 99999 has no purchase history'))).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'user 99999 has no purchase history' },
      contentType: 'application/json; charset=utf-8',
    });
  });

  it('joins the messages of a validation failure', () => {
    const error = new BadRequestException({ message: ['top_n must be an integer', 'limit is wrong'] });
    expect(answer(error).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'top_n must be an integer; limit is wrong',
    });
  });

  it("keeps the 4xx of Fastify's own errors", () => {
    const error = Object.assign(new Error('Request body is too large'), { statusCode: 413 });
    expect(answer(error).body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'Request body is too large',
    });
  });

  it('answers anything unexpected with a plain 500, never its message or stack', () => {
    const sent = answer(
      new TypeError("Cannot read properties of undefined (reading 'x') at /app/secret.js:1"),
    );
    expect(sent).toMatchObject({
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', message: 'internal error' },
    });
    expect(JSON.stringify(sent.body)).not.toMatch(/secret|undefined/);
    expect(answer('a thrown string').status).toBe(500);
    expect(answer(new HttpException('teapot', 418)).body).toMatchObject({ statusCode: 418, error: 'Error' });
  });
});

import { createHash } from 'node:crypto';

/** Hex sha256 of a UTF-8 string (the same as Postgres' encode(sha256(convert_to(s, 'UTF8')), 'hex')). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

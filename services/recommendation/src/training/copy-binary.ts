import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatabaseClient } from '@retail/common';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

/**
 * PostgreSQL's binary COPY format, both ways, for the columns the training reads and writes (int4, text,
 * pgvector's `vector`): about ten times faster than the text forms of vectors, and exact (float4 values as
 * stored, no decimal printing or parsing). The format: a 19-byte header (signature, flags, extension
 * length), then per row an int16 field count and each field as an int32 length and its bytes (network byte
 * order), then an int16 -1.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Runs `COPY (query) TO STDOUT (FORMAT binary)` and returns a reader over the whole answer. */
export async function copyOut(client: DatabaseClient, query: string): Promise<CopyReader> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return new CopyReader(Buffer.concat(chunks));
}

/** Runs `COPY target FROM STDIN (FORMAT binary)`, each of `rows` written by `encode`. */
export async function copyIn<T>(
  client: DatabaseClient,
  target: string,
  rows: Iterable<T>,
  encode: (writer: CopyWriter, row: T) => void,
): Promise<void> {
  const writer = new CopyWriter();
  function* chunks(): Generator<Buffer> {
    yield writer.header();
    for (const row of rows) {
      encode(writer, row);
      if (writer.size() >= CHUNK) yield writer.take();
    }
    yield writer.trailer();
  }
  await pipeline(
    Readable.from(chunks()),
    client.query(copyFrom(`COPY ${target} FROM STDIN (FORMAT binary)`)),
  );
}

/** Bytes gathered before they are handed to the connection. */
const CHUNK = 1 << 20;

/** Reads the binary COPY format, one row and one field at a time. */
export class CopyReader {
  private offset: number;
  private readonly view: DataView;

  constructor(private readonly buffer: Buffer) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (buffer.length < 19 || !buffer.subarray(0, SIGNATURE.length).equals(SIGNATURE))
      throw new Error('not the binary COPY format');
    this.offset = 19 + this.view.getInt32(15);
  }

  /** Moves to the next row; false at the end. */
  nextRow(): boolean {
    if (this.offset + 2 > this.buffer.length) return false;
    const fields = this.view.getInt16(this.offset);
    this.offset += 2;
    return fields !== -1;
  }

  int32(): number {
    this.field(4);
    const value = this.view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }

  text(): string {
    const length = this.field();
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** A pgvector `vector` (int16 dimensions, int16 unused, float4 values). */
  vector(): Float32Array {
    const length = this.field();
    const dims = this.view.getInt16(this.offset);
    if (length !== 4 + 4 * dims) throw new Error('unexpected binary form of a vector');
    const out = new Float32Array(dims);
    const bytes = Buffer.from(out.buffer);
    this.buffer.copy(bytes, 0, this.offset + 4, this.offset + length);
    if (LITTLE_ENDIAN) bytes.swap32();
    this.offset += length;
    return out;
  }

  private field(expected?: number): number {
    const length = this.view.getInt32(this.offset);
    this.offset += 4;
    if (length < 0) throw new Error('unexpected NULL');
    if (expected !== undefined && length !== expected)
      throw new Error(`expected ${expected} bytes, got ${length}`);
    return length;
  }
}

/** Writes the binary COPY format into growing buffers, handed out with take(). */
export class CopyWriter {
  private buffer = Buffer.allocUnsafe(CHUNK * 2);
  private offset = 0;

  header(): Buffer {
    const out = Buffer.alloc(19);
    SIGNATURE.copy(out);
    return out; // flags and extension length: zero
  }

  trailer(): Buffer {
    this.room(2);
    this.buffer.writeInt16BE(-1, this.offset);
    this.offset += 2;
    return this.take();
  }

  row(fields: number): void {
    this.room(2);
    this.buffer.writeInt16BE(fields, this.offset);
    this.offset += 2;
  }

  text(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    this.room(4 + length);
    this.buffer.writeInt32BE(length, this.offset);
    this.buffer.write(value, this.offset + 4, 'utf8');
    this.offset += 4 + length;
  }

  /** A pgvector `vector` from float32 values. */
  vector(values: Float32Array): void {
    const dims = values.length;
    const length = 4 + 4 * dims;
    this.room(4 + length);
    const b = this.buffer;
    b.writeInt32BE(length, this.offset);
    b.writeInt16BE(dims, this.offset + 4);
    b.writeInt16BE(0, this.offset + 6);
    const from = this.offset + 8;
    b.set(new Uint8Array(values.buffer, values.byteOffset, dims * 4), from);
    if (LITTLE_ENDIAN) b.subarray(from, from + dims * 4).swap32();
    this.offset += 4 + length;
  }

  size(): number {
    return this.offset;
  }

  /** The bytes written since the last take(). */
  take(): Buffer {
    const out = Buffer.from(this.buffer.subarray(0, this.offset));
    this.offset = 0;
    return out;
  }

  private room(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const larger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(larger, 0, 0, this.offset);
    this.buffer = larger;
  }
}

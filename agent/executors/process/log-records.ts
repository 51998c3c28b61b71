// The step log file the supervisor writes and the agent reads: a sequence of framed records, one per
// read from the step's stdout or stderr pipe. A record is a 13-byte header (stream: 1 byte, 1 = stdout
// and 2 = stderr; the arrival time: float64 big-endian Unix ms; the payload length: uint32 big-endian)
// followed by the payload. Records are only ever appended, so a byte offset names a position for good
// and a reader replaying the file from 0 sees the same records in the same order every time.
//
// Shared by the supervisor process (agent/executors/process/supervisor.ts), so it imports node only.

export const RECORD_HEADER_BYTES = 13;

export type RecordStream = 'stdout' | 'stderr';

export interface LogRecord {
  stream: RecordStream;
  at: number;
  data: Buffer;
}

export function encodeRecordHeader(stream: RecordStream, at: number, length: number): Buffer {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  header.writeUInt8(stream === 'stdout' ? 1 : 2, 0);
  header.writeDoubleBE(at, 1);
  header.writeUInt32BE(length, 9);
  return header;
}

/** The header at `offset` of `buf`; undefined when fewer than RECORD_HEADER_BYTES are there. */
export function decodeRecordHeader(
  buf: Buffer,
  offset = 0,
): { stream: RecordStream; at: number; length: number } | undefined {
  if (buf.length - offset < RECORD_HEADER_BYTES) return undefined;
  const kind = buf.readUInt8(offset);
  if (kind !== 1 && kind !== 2) throw new Error(`corrupt step log: record kind ${kind} at offset ${offset}`);
  return {
    stream: kind === 1 ? 'stdout' : 'stderr',
    at: buf.readDoubleBE(offset + 1),
    length: buf.readUInt32BE(offset + 9),
  };
}

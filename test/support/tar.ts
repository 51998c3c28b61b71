// A directory as tar bytes in memory: what `outpost execute` uploads, for tests that call the API.

import { create } from 'tar';

export async function tarOf(dir: string): Promise<Buffer<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of create({ cwd: dir, portable: true }, ['.']) as AsyncIterable<Buffer>)
    chunks.push(chunk);
  return Buffer.from(Buffer.concat(chunks));
}

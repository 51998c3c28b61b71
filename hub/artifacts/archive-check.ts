// Checks an archive a user uploaded before any build may use it: every entry must stay inside the
// directory it is unpacked into (the rule agents enforce when unpacking, common/archive-entry.ts), so a
// bad archive is refused at the upload with the entry named, not at some later step.

import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { entryEscape } from '../../common/archive-entry.js';

const ROOT = '/upload';

/** The first problem with the archive's entries, or undefined when it is a tar whose entries all stay inside. */
export async function archiveProblem(stream: Readable): Promise<string | undefined> {
  let problem: string | undefined;
  let parseError: string | undefined;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      problem ??= entryEscape(ROOT, { path: entry.path, type: entry.type, linkpath: entry.linkpath });
      entry.resume();
    },
  });
  const done = new Promise<void>((resolve) => {
    parser.on('end', resolve);
    parser.on('error', (err: Error) => {
      parseError ??= `not a tar archive: ${err.message}`;
      resolve();
    });
  });
  stream.pipe(parser);
  await done;
  return problem ?? parseError;
}

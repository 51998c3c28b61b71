// Reads what a hub or agent process printed as pino JSON lines, strictly: a line that is not a JSON
// object, or that carries a key twice (JSON.parse would silently keep the last one), is reported.

import { parse as parseYaml } from 'yaml';

export interface LogLines {
  entries: { msg?: string; [key: string]: unknown }[];
  /** One message per line that is not a JSON object or repeats a key, with the line. */
  problems: string[];
}

export function readLogLines(output: string): LogLines {
  const entries: LogLines['entries'] = [];
  const problems: string[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as unknown;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
        throw new Error('not an object');
      // JSON is YAML, and the YAML parser refuses a mapping with a repeated key (at any depth).
      parseYaml(line, { uniqueKeys: true });
      entries.push(entry as LogLines['entries'][number]);
    } catch (err) {
      problems.push(`${(err as Error).message.split('\n')[0]}: ${line}`);
    }
  }
  return { entries, problems };
}

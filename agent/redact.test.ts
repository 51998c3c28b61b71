import { expect, it } from 'vitest';
import { Redactor } from './redact.js';

function run(secrets: string[], chunks: string[]): string {
  const r = new Redactor(secrets);
  return Buffer.concat([...chunks.map((c) => r.push(Buffer.from(c))), r.flush()]).toString();
}

it('masks secrets, also when a chunk boundary cuts one in two', () => {
  expect(run(['hunter2'], ['password is hunter2\n'])).toBe('password is ((redacted))\n');
  expect(run(['hunter2'], ['password is hun', 'ter2 and hunter', '2'])).toBe(
    'password is ((redacted)) and ((redacted))',
  );
  expect(run(['s3cr3t', 'other'], ['s3', 'cr3t other s3cr'])).toBe('((redacted)) ((redacted)) s3cr');
});

it('passes output through untouched when there is nothing to hide', () => {
  expect(run([], ['a', 'b'])).toBe('ab');
  expect(run([''], ['plain'])).toBe('plain');
});

it('holds back only an end that could start a secret', () => {
  const r = new Redactor(['hunter2']);
  expect(r.push(Buffer.from('line one\n')).toString()).toBe('line one\n');
  expect(r.held).toBe(0);
  expect(r.push(Buffer.from('say hun')).toString()).toBe('say ');
  expect(r.held).toBe(3);
  expect(r.push(Buffer.from('dred\n')).toString()).toBe('hundred\n');
  expect(r.held).toBe(0);
});

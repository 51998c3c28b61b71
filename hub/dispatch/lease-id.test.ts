import { expect, it } from 'vitest';
import { newLeaseId } from './lease-id.js';

it('makes unique version 7 UUIDs that sort in the order they were made', () => {
  const ids = Array.from({ length: 1_000 }, () => newLeaseId());
  for (const id of ids)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual(ids);
});

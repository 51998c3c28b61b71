import { expect, it } from 'vitest';
import { closestKey, didYouMean } from './suggest.js';

it('suggests the closest key within two edits, and nothing for a short or distant key', () => {
  expect(closestKey('tsk', ['get', 'put', 'task'])).toBe('task');
  expect(closestKey('privilegd', ['privileged', 'params'])).toBe('privileged');
  expect(closestKey('trigre', ['trigger', 'passed'])).toBe('trigger');
  expect(closestKey('trgr', ['trigger', 'passed'])).toBeUndefined(); // 3 edits
  expect(closestKey('TASK', ['task'])).toBe('task');
  expect(closestKey('do', ['in', 'go'])).toBeUndefined();
  expect(closestKey('colour', ['platform', 'run'])).toBeUndefined();
  expect(didYouMean('tsk', ['task'])).toBe('; did you mean `task`?');
  expect(didYouMean('zzz', ['task'])).toBe('');
});

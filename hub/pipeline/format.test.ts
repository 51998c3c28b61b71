import { describe, expect, it } from 'vitest';

import { formatPipeline } from './format.js';

describe('formatPipeline', () => {
  it('orders keys canonically, keeps comments, and is idempotent', () => {
    const source = [
      'jobs:',
      '- plan:',
      '    - config: {run: {path: x}, platform: linux}',
      '      # why privileged',
      '      privileged: true',
      '      task: t',
      '  name: j',
      'resources:',
      '- type: mock',
      '  name: r',
      '',
    ].join('\n');
    const formatted = formatPipeline(source);
    expect(formatted).toBe(
      [
        'resources:',
        '  - name: r',
        '    type: mock',
        'jobs:',
        '  - name: j',
        '    plan:',
        '      - task: t',
        '        config: {platform: linux, run: {path: x}}',
        '        # why privileged',
        '        privileged: true',
        '',
      ].join('\n'),
    );
    expect(formatPipeline(formatted)).toBe(formatted);
  });

  it('keeps anchors before their aliases when keys move', () => {
    const source =
      'jobs:\n- plan: [{get: r, params: &p {a: 1}}]\n  name: j\n  on_success: {get: r, params: *p}\n';
    const formatted = formatPipeline(source);
    expect(formatted.indexOf('&p')).toBeLessThan(formatted.indexOf('*p'));
    expect(formatPipeline(formatted)).toBe(formatted);
  });
});

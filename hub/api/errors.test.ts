import { describe, expect, it } from 'vitest';
import { StoreConflictError } from '../store/store.js';
import { HttpError, notFound, toApiError } from './errors.js';

describe('the API error table', () => {
  it('maps each kind of failure to its status and code, and hides the detail of an internal one', () => {
    expect(toApiError(notFound('build 7'))).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'build 7 not found' } },
      internal: false,
    });
    expect(toApiError(new HttpError(409, 'build_finished', 'done')).status).toBe(409);
    expect(toApiError(new StoreConflictError('pipeline "p": job "j" appears twice'))).toEqual({
      status: 409,
      body: { error: { code: 'conflict', message: 'pipeline "p": job "j" appears twice' } },
      internal: false,
    });
    const badJson = Object.assign(new Error('Unexpected end of JSON input'), {
      statusCode: 400,
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
    });
    expect(toApiError(badJson).body.error).toEqual({
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      message: 'Unexpected end of JSON input',
    });
    expect(toApiError(new TypeError('secret path /var/lib/x'))).toEqual({
      status: 500,
      body: { error: { code: 'internal', message: 'internal error' } },
      internal: true,
    });
  });
});

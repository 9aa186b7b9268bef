import type { ApiRequest } from '../context.ts';
import { ApiError } from '../errors.ts';

/** A path parameter the route template guarantees. */
export function param(request: ApiRequest, name: string): string {
  const value = request.params[name];
  if (value === undefined) throw new ApiError('BAD_REQUEST', `missing path parameter ${name}`);
  return value;
}

/**
 * Typed refusals of the metadata layer (access store and management listings). The API maps
 * them to HTTP in one place: not_found 404, conflict 409 (ProjectNotEmptyError: Harbor's 412
 * on project delete), invalid 400. Anything else from the database is a 500.
 */

export type AccessStoreErrorCode = 'not_found' | 'conflict' | 'invalid';

export abstract class AccessStoreError extends Error {
  abstract readonly code: AccessStoreErrorCode;
}

export class NotFoundError extends AccessStoreError {
  readonly code = 'not_found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends AccessStoreError {
  readonly code = 'conflict';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A project that still has repositories cannot be deleted without `force`. */
export class ProjectNotEmptyError extends ConflictError {
  constructor(
    readonly project: string,
    readonly repositoryCount: number,
  ) {
    super(`project ${project} contains ${repositoryCount} repositories and cannot be deleted`);
    this.name = 'ProjectNotEmptyError';
  }
}

export class InvalidInputError extends AccessStoreError {
  readonly code = 'invalid';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

export function isAccessStoreError(err: unknown): err is AccessStoreError {
  return err instanceof AccessStoreError;
}

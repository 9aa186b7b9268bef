/**
 * Path (and range) rules shared by every blob storage driver, checked in this one place (as Distribution's
 * base driver does) so no backend can disagree about what a valid path is.
 *
 * A path is one or more slash-separated segments of [A-Za-z0-9._:-], none empty and none
 * starting with "." (which rules out "." and ".." and leaves dot-names free for a driver's own
 * bookkeeping, such as the filesystem driver's `.tmp/`). No leading or trailing slash.
 * A prefix follows the same rules but may also be "" (the whole store); it names a directory:
 * `list("a/b")` returns objects whose path starts with "a/b/", never an object at "a/b" itself.
 */
import { InvalidOffsetError, InvalidPathError, type ByteRange } from './driver.ts';

const SEGMENT = /^[A-Za-z0-9_:-][A-Za-z0-9._:-]*$/;
/** Long enough for every layout path; short enough for S3 keys (1024) with a driver prefix. */
const MAX_PATH_LENGTH = 512;

/** Whether one path segment (a file or directory name) is valid. */
export function isValidSegment(segment: string): boolean {
  return SEGMENT.test(segment);
}

function isValidPath(path: string): boolean {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH_LENGTH) return false;
  return path.split('/').every((segment) => SEGMENT.test(segment));
}

/** Returns `path` unchanged, or throws InvalidPathError. */
export function checkPath(driver: string, path: string): string {
  if (!isValidPath(path)) throw new InvalidPathError(`invalid storage path ${JSON.stringify(path)}`, driver, String(path));
  return path;
}

/** Returns `prefix` unchanged ("" allowed), or throws InvalidPathError. */
export function checkPrefix(driver: string, prefix: string): string {
  if (prefix === '') return prefix;
  return checkPath(driver, prefix);
}

/** Parent path of a path, "" at the top. */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** Range rules shared by the drivers' read (see BlobStorageDriver.read). */
export function checkRange(driver: string, path: string, range: ByteRange | undefined, size: number): void {
  if (!range) return;
  const { offset, end } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
    throw new InvalidOffsetError(`invalid offset ${offset} for an object of ${size} bytes`, driver, path);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < offset)) {
    throw new InvalidOffsetError(`invalid range ${offset}-${end}`, driver, path);
  }
}

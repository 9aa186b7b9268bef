/**
 * Cookie sessions for the future portal, kept in the CacheStore (Redis across replicas), so
 * any replica serves a logged-in browser. The cookie holds a random id; the cache key is its
 * SHA-256, so a cache dump does not hand out live sessions. Each session carries a CSRF token
 * that cookie-authenticated writes must echo in the X-Harbor-CSRF-Token header.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CacheStore } from '../cache/cache.ts';

export const SESSION_COOKIE = 'sid';
export const CSRF_HEADER = 'X-Harbor-CSRF-Token';

export interface SessionData {
  /** Sessions are for users (Harbor does not let robots into the portal). */
  userId: string;
  userName: string;
  csrf: string;
}

export interface SessionStoreOptions {
  /** Idle lifetime; each use extends it. */
  ttlSeconds?: number;
}

export class SessionStore {
  private readonly cache: CacheStore;
  readonly ttlSeconds: number;

  constructor(cache: CacheStore, options: SessionStoreOptions = {}) {
    this.cache = cache;
    this.ttlSeconds = options.ttlSeconds ?? 1800;
  }

  async create(user: { id: string; name: string }): Promise<{ id: string; data: SessionData }> {
    const id = randomBytes(32).toString('base64url');
    const data: SessionData = { userId: user.id, userName: user.name, csrf: randomBytes(24).toString('base64url') };
    await this.cache.set(key(id), JSON.stringify(data), this.ttlSeconds);
    return { id, data };
  }

  /** The live session, its idle lifetime extended; undefined when unknown or expired. */
  async get(id: string): Promise<SessionData | undefined> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return undefined;
    const raw = await this.cache.get(key(id));
    if (raw === undefined) return undefined;
    let data: SessionData;
    try {
      data = JSON.parse(raw.toString('utf8')) as SessionData;
    } catch {
      return undefined;
    }
    await this.cache.set(key(id), raw, this.ttlSeconds);
    return data;
  }

  async delete(id: string): Promise<void> {
    await this.cache.delete(key(id));
  }
}

function key(id: string): string {
  return `session:${createHash('sha256').update(id).digest('base64url')}`;
}

/** Constant-time comparison of the presented CSRF token with the session's. */
export function csrfMatches(session: SessionData, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

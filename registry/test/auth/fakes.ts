/**
 * In-process fakes for unit tests of the auth logic (pure code over these interfaces).
 * The real implementations (SQL identity store, MemoryCache/RedisCache) have their own
 * tests against real services.
 */
import type { CacheStore } from '../../src/cache/cache.ts';
import type { IdentityStore, ProjectDirectory, ProjectRecord, RobotRecord, UserRecord } from '../../src/auth/identity.ts';
import type { ProjectRole } from '../../src/auth/permissions.ts';

/** A settable clock shared by the code under test and the fakes. */
export class TestClock {
  constructor(private ms: number = Date.UTC(2026, 10, 23, 12, 0, 0)) {}
  now = (): Date => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export class FakeCache implements CacheStore {
  readonly name = 'fake';
  readonly entries = new Map<string, { value: Buffer; expiresAt: number }>();
  constructor(private readonly clock: TestClock) {}

  private live(key: string): { value: Buffer; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
  async get(key: string): Promise<Buffer | undefined> {
    return this.live(key)?.value;
  }
  async set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void> {
    this.entries.set(key, { value: Buffer.from(value), expiresAt: this.clock.now().getTime() + ttlSeconds * 1000 });
  }
  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
  async setIfAbsent(key: string, value: Buffer | string, ttlSeconds: number): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }
  async deleteIfEquals(key: string, value: Buffer | string): Promise<boolean> {
    const entry = this.live(key);
    if (!entry || !entry.value.equals(Buffer.from(value))) return false;
    this.entries.delete(key);
    return true;
  }
  async increment(key: string, ttlSeconds: number): Promise<number> {
    const entry = this.live(key);
    const next = entry ? Number(entry.value.toString()) + 1 : 1;
    const expiresAt = entry ? entry.expiresAt : this.clock.now().getTime() + ttlSeconds * 1000;
    this.entries.set(key, { value: Buffer.from(String(next)), expiresAt });
    return next;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

export class FakeDirectory implements IdentityStore, ProjectDirectory {
  readonly users = new Map<string, UserRecord>();
  readonly robots = new Map<string, RobotRecord>();
  readonly projects = new Map<string, ProjectRecord>();
  /** project -> userId -> role */
  readonly members = new Map<string, Map<string, ProjectRole>>();

  async findUser(name: string): Promise<UserRecord | undefined> {
    return this.users.get(name);
  }
  async findRobot(name: string): Promise<RobotRecord | undefined> {
    return this.robots.get(name);
  }
  async findProject(name: string): Promise<ProjectRecord | undefined> {
    return this.projects.get(name);
  }
  async memberRole(project: string, userId: string): Promise<ProjectRole | undefined> {
    return this.members.get(project)?.get(userId);
  }
  addMember(project: string, userId: string, role: ProjectRole): void {
    let roles = this.members.get(project);
    if (!roles) this.members.set(project, (roles = new Map()));
    roles.set(userId, role);
  }
}

/**
 * MetadataStore over SQL, shared by PostgreSQL and PGlite. The schema is defined and
 * documented in ./migrations/*.sql.
 *
 * Hot paths (resolveTag, getManifest, getLinkedBlob) are one indexed query each, joined
 * through the unique repository name, and marked `prepare` so pooled connections keep them
 * planned. Writes are idempotent (ON CONFLICT), so a retried request changes nothing twice.
 */
import { migrate } from './migrations.ts';
import { checkPage, paged, SqlConditions } from './sql-paging.ts';
import type {
  ArtifactFilter,
  ArtifactSummary,
  BlobRecord,
  ManifestRecord,
  MetadataStore,
  NewManifest,
  OffsetPage,
  Page,
  Paged,
  ReferrerDescriptor,
  RepositorySummary,
  SqlDatabase,
  SqlExecutor,
  SqlQueryOptions,
  UploadSessionRecord,
} from './store.ts';

// Prepared SQL names its columns (never SELECT *): a newer replica's migration adding columns
// then cannot change the result type of statements prepared on running replicas.
const PREPARED: SqlQueryOptions = { prepare: true };

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  content: Buffer;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: Record<string, string> | null;
  created_at: Date;
}

interface UploadSessionRow {
  id: string;
  repository: string;
  started_at: Date;
  algorithm: string | null;
}

function toUploadSession(row: UploadSessionRow): UploadSessionRecord {
  return { id: row.id, repository: row.repository, startedAt: row.started_at, ...(row.algorithm !== null ? { algorithm: row.algorithm } : {}) };
}

interface ReferrerRow {
  media_type: string;
  digest: string;
  size: number;
  artifact_type: string | null;
  annotations: Record<string, string> | null;
}

export class SqlMetadataStore implements MetadataStore {
  readonly name: string;
  readonly shared: boolean;
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
    this.name = db.name;
    this.shared = db.shared;
  }

  async migrate(): Promise<void> {
    await migrate(this.#db);
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  // --- Blobs ---

  async getBlob(digest: string): Promise<BlobRecord | undefined> {
    const rows = await this.#db.query<BlobRecord>('SELECT digest, size FROM blobs WHERE digest = $1', [digest], PREPARED);
    return rows[0];
  }

  async putBlob(repository: string, blob: BlobRecord): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const repositoryId = await ensureRepository(tx, repository);
      // Seeing the blob again renews it for the GC time window.
      await tx.query(
        `INSERT INTO blobs (digest, size) VALUES ($1, $2)
         ON CONFLICT (digest) DO UPDATE SET last_seen_at = now()`,
        [blob.digest, blob.size],
        PREPARED,
      );
      await tx.query(
        'INSERT INTO repository_blobs (repository_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [repositoryId, blob.digest],
        PREPARED,
      );
    });
  }

  async getLinkedBlob(repository: string, digest: string): Promise<BlobRecord | undefined> {
    const rows = await this.#db.query<BlobRecord>(
      `SELECT b.digest, b.size
         FROM repositories r
         JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = $2
         JOIN blobs b ON b.digest = rb.digest
        WHERE r.name = $1`,
      [repository, digest],
      PREPARED,
    );
    return rows[0];
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const rows = await this.#db.query(
      `DELETE FROM repository_blobs rb USING repositories r
        WHERE rb.repository_id = r.id AND r.name = $1 AND rb.digest = $2
       RETURNING rb.digest`,
      [repository, digest],
      PREPARED,
    );
    return rows.length > 0;
  }

  // --- Manifests and tags ---

  async putManifest(manifest: NewManifest, tags: string[]): Promise<void> {
    // Sorted and unique: concurrent pushes lock tag rows in the same order (no deadlock),
    // and one INSERT may not update the same row twice.
    const tagNames = [...new Set(tags)].sort();
    await this.#db.transaction(async (tx) => {
      const repositoryId = await ensureRepository(tx, manifest.repository);
      const inserted = await tx.query(
        `INSERT INTO manifests
           (repository_id, digest, media_type, size, content, artifact_type, subject_digest, annotations)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
         ON CONFLICT (repository_id, digest) DO NOTHING
         RETURNING digest`,
        [
          repositoryId,
          manifest.digest,
          manifest.mediaType,
          manifest.content.length,
          manifest.content,
          manifest.artifactType ?? null,
          manifest.subject ?? null,
          manifest.annotations === undefined ? null : JSON.stringify(manifest.annotations),
        ],
        PREPARED,
      );
      // Same digest means same bytes, so an existing row already has these references.
      const { blobs, manifests } = manifest.references;
      if (inserted.length > 0 && blobs.length + manifests.length > 0) {
        await tx.query(
          `INSERT INTO manifest_references (repository_id, manifest_digest, child_digest, child_kind)
           SELECT $1::bigint, $2::text, child, 'blob' FROM unnest($3::text[]) AS child
           UNION ALL
           SELECT $1::bigint, $2::text, child, 'manifest' FROM unnest($4::text[]) AS child
           ON CONFLICT DO NOTHING`,
          [repositoryId, manifest.digest, blobs, manifests],
          PREPARED,
        );
      }
      if (tagNames.length > 0) {
        await tx.query(
          `INSERT INTO tags (repository_id, name, manifest_digest)
           SELECT $1::bigint, tag, $2::text FROM unnest($3::text[]) AS tag
           ON CONFLICT (repository_id, name) DO UPDATE
             SET manifest_digest = EXCLUDED.manifest_digest, pushed_at = now(), updated_at = now()`,
          [repositoryId, manifest.digest, tagNames],
          PREPARED,
        );
      }
    });
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined> {
    const rows = await this.#db.query<ManifestRow>(
      `SELECT m.digest, m.media_type, m.size, m.content, m.artifact_type, m.subject_digest,
              m.annotations, m.created_at
         FROM repositories r
         JOIN manifests m ON m.repository_id = r.id AND m.digest = $2
        WHERE r.name = $1`,
      [repository, digest],
      PREPARED,
    );
    const row = rows[0];
    if (!row) return undefined;
    const record: ManifestRecord = {
      repository,
      digest: row.digest,
      mediaType: row.media_type,
      size: row.size,
      content: row.content,
      createdAt: row.created_at,
    };
    if (row.artifact_type !== null) record.artifactType = row.artifact_type;
    if (row.subject_digest !== null) record.subject = row.subject_digest;
    if (row.annotations !== null) record.annotations = row.annotations;
    return record;
  }

  async resolveTag(repository: string, tag: string): Promise<string | undefined> {
    const rows = await this.#db.query<{ manifest_digest: string }>(
      `SELECT t.manifest_digest
         FROM repositories r
         JOIN tags t ON t.repository_id = r.id AND t.name = $2
        WHERE r.name = $1`,
      [repository, tag],
      PREPARED,
    );
    return rows[0]?.manifest_digest;
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    // Tags and references go with it (ON DELETE CASCADE); referrers of it stay until GC.
    const rows = await this.#db.query(
      `DELETE FROM manifests m USING repositories r
        WHERE m.repository_id = r.id AND r.name = $1 AND m.digest = $2
       RETURNING m.digest`,
      [repository, digest],
      PREPARED,
    );
    return rows.length > 0;
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const rows = await this.#db.query(
      `DELETE FROM tags t USING repositories r
        WHERE t.repository_id = r.id AND r.name = $1 AND t.name = $2
       RETURNING t.name`,
      [repository, tag],
      PREPARED,
    );
    return rows.length > 0;
  }

  async listTags(repository: string, page: Page): Promise<string[] | undefined> {
    // '' sorts before every name, so "no `after`" needs no second query text.
    const rows = await this.#db.query<{ name: string }>(
      `SELECT t.name
         FROM repositories r
         JOIN tags t ON t.repository_id = r.id
        WHERE r.name = $1 AND t.name > $2
        ORDER BY t.name
        LIMIT $3`,
      [repository, page.after ?? '', pageLimit(page)],
      PREPARED,
    );
    if (rows.length === 0) {
      const exists = await this.#db.query('SELECT 1 FROM repositories WHERE name = $1', [repository], PREPARED);
      if (exists.length === 0) return undefined;
    }
    return rows.map((row) => row.name);
  }

  async listRepositories(page: Page): Promise<string[]> {
    const rows = await this.#db.query<{ name: string }>(
      'SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2',
      [page.after ?? '', pageLimit(page)],
      PREPARED,
    );
    return rows.map((row) => row.name);
  }

  async listReferrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
    const select = `SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations
         FROM repositories r
         JOIN manifests m ON m.repository_id = r.id
        WHERE r.name = $1 AND m.subject_digest = $2`;
    const order = ' ORDER BY m.created_at, m.digest';
    const rows =
      artifactType === undefined
        ? await this.#db.query<ReferrerRow>(select + order, [repository, subject], PREPARED)
        : await this.#db.query<ReferrerRow>(select + ' AND m.artifact_type = $3' + order, [repository, subject, artifactType], PREPARED);
    return rows.map((row) => {
      const descriptor: ReferrerDescriptor = { mediaType: row.media_type, digest: row.digest, size: row.size };
      if (row.artifact_type !== null) descriptor.artifactType = row.artifact_type;
      if (row.annotations !== null) descriptor.annotations = row.annotations;
      return descriptor;
    });
  }

  async tagManifest(repository: string, tag: string, digest: string): Promise<boolean> {
    const rows = await this.#db.query(
      `INSERT INTO tags (repository_id, name, manifest_digest)
       SELECT m.repository_id, $2, m.digest
         FROM repositories r
         JOIN manifests m ON m.repository_id = r.id AND m.digest = $3
        WHERE r.name = $1
       ON CONFLICT (repository_id, name) DO UPDATE
         SET manifest_digest = EXCLUDED.manifest_digest, pushed_at = now(), updated_at = now()
       RETURNING name`,
      [repository, tag, digest],
      PREPARED,
    );
    return rows.length > 0;
  }

  async recordPull(repository: string, digest: string, tag?: string): Promise<void> {
    // At most one write per minute and row: a popular image pulled by a whole cluster must
    // not turn every pull into a row lock. Retention only needs pull times to the minute.
    await this.#db.query(
      `UPDATE manifests m SET pulled_at = now()
         FROM repositories r
        WHERE m.repository_id = r.id AND r.name = $1 AND m.digest = $2
          AND (m.pulled_at IS NULL OR m.pulled_at < now() - interval '1 minute')`,
      [repository, digest],
      PREPARED,
    );
    if (tag === undefined) return;
    await this.#db.query(
      `UPDATE tags t SET pulled_at = now()
         FROM repositories r
        WHERE t.repository_id = r.id AND r.name = $1 AND t.name = $2 AND t.manifest_digest = $3
          AND (t.pulled_at IS NULL OR t.pulled_at < now() - interval '1 minute')`,
      [repository, tag, digest],
      PREPARED,
    );
  }

  // --- Management listings ---

  async listProjectRepositories(project: string, filter: { name?: string }, page: OffsetPage): Promise<Paged<RepositorySummary>> {
    const where = new SqlConditions();
    where.add(`r.project = ${where.param(project)}`);
    if (filter.name !== undefined) where.add(`strpos(r.name, ${where.param(filter.name)}) > 0`);
    return paged(this.#db, REPOSITORY_SELECT, ' FROM repositories r', where, 'r.name', page, toRepositorySummary);
  }

  async getRepository(repository: string): Promise<RepositorySummary | undefined> {
    const rows = await this.#db.query<RepositoryRow>(`${REPOSITORY_SELECT} FROM repositories r WHERE r.name = $1`, [repository]);
    return rows[0] && toRepositorySummary(rows[0]);
  }

  async deleteRepository(repository: string): Promise<boolean> {
    // Manifests, tags, references and blob links cascade; blob rows stay for GC.
    const rows = await this.#db.query('DELETE FROM repositories WHERE name = $1 RETURNING id', [repository]);
    return rows.length > 0;
  }

  async listArtifacts(repository: string, filter: ArtifactFilter, page: OffsetPage): Promise<Paged<ArtifactSummary> | undefined> {
    checkPage(page);
    const [found] = await this.#db.query<{ id: number }>('SELECT id FROM repositories WHERE name = $1', [repository], PREPARED);
    if (!found) return undefined;
    const where = new SqlConditions();
    where.add(`m.repository_id = ${where.param(found.id)}`);
    if (filter.tagged !== undefined) {
      const tagged = 'EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.manifest_digest = m.digest)';
      where.add(filter.tagged ? tagged : `NOT ${tagged}`);
    }
    return paged(this.#db, ARTIFACT_SELECT, ' FROM manifests m', where, 'm.created_at DESC, m.digest', page, (row: ArtifactRow) =>
      toArtifactSummary(repository, row),
    );
  }

  async getArtifact(repository: string, digest: string): Promise<ArtifactSummary | undefined> {
    const rows = await this.#db.query<ArtifactRow>(
      `${ARTIFACT_SELECT} FROM repositories r JOIN manifests m ON m.repository_id = r.id AND m.digest = $2 WHERE r.name = $1`,
      [repository, digest],
    );
    return rows[0] && toArtifactSummary(repository, rows[0]);
  }
  async createUploadSession(session: { id: string; repository: string; algorithm?: string }): Promise<void> {
    await this.#db.query('INSERT INTO upload_sessions (id, repository, algorithm) VALUES ($1, $2, $3)', [session.id, session.repository, session.algorithm ?? null], PREPARED);
  }

  async getUploadSession(id: string): Promise<UploadSessionRecord | undefined> {
    const rows = await this.#db.query<UploadSessionRow>('SELECT id, repository, started_at, algorithm FROM upload_sessions WHERE id = $1', [id], PREPARED);
    return rows[0] ? toUploadSession(rows[0]) : undefined;
  }

  async deleteUploadSession(id: string): Promise<boolean> {
    const rows = await this.#db.query<{ id: string }>('DELETE FROM upload_sessions WHERE id = $1 RETURNING id', [id], PREPARED);
    return rows.length > 0;
  }

  async listUploadSessionsStartedBefore(before: Date, limit: number, afterId?: string): Promise<UploadSessionRecord[]> {
    const rows = await this.#db.query<UploadSessionRow>(
      `SELECT id, repository, started_at, algorithm FROM upload_sessions
        WHERE started_at < $1 AND ($3::uuid IS NULL OR id > $3::uuid) ORDER BY id LIMIT $2`,
      [before, limit, afterId ?? null],
    );
    return rows.map(toUploadSession);
  }

}

interface RepositoryRow {
  name: string;
  project: string;
  artifact_count: number;
  created_at: Date;
  updated_at: Date;
}

const REPOSITORY_SELECT = `
  SELECT r.name, r.project, r.created_at,
         (SELECT count(*) FROM manifests m WHERE m.repository_id = r.id) AS artifact_count,
         greatest(r.created_at,
                  (SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = r.id),
                  (SELECT max(t.pushed_at) FROM tags t WHERE t.repository_id = r.id)) AS updated_at`;

function toRepositorySummary(row: RepositoryRow): RepositorySummary {
  return {
    name: row.name,
    project: row.project,
    artifactCount: row.artifact_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface ArtifactRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: Record<string, string> | null;
  created_at: Date;
  pulled_at: Date | null;
  /** jsonb: times arrive as ISO strings. */
  tags: Array<{ name: string; pushed_at: string; pulled_at: string | null }>;
  children: string[];
}

const ARTIFACT_SELECT = `
  SELECT m.digest, m.media_type, m.size, m.artifact_type, m.subject_digest, m.annotations, m.created_at, m.pulled_at,
         coalesce((SELECT jsonb_agg(jsonb_build_object('name', t.name, 'pushed_at', t.pushed_at, 'pulled_at', t.pulled_at)
                                    ORDER BY t.name)
                     FROM tags t
                    WHERE t.repository_id = m.repository_id AND t.manifest_digest = m.digest), '[]'::jsonb) AS tags,
         coalesce((SELECT array_agg(c.child_digest ORDER BY c.child_digest)
                     FROM manifest_references c
                    WHERE c.repository_id = m.repository_id AND c.manifest_digest = m.digest
                      AND c.child_kind = 'manifest'), '{}'::text[]) AS children`;

function toArtifactSummary(repository: string, row: ArtifactRow): ArtifactSummary {
  const artifact: ArtifactSummary = {
    repository,
    digest: row.digest,
    mediaType: row.media_type,
    size: row.size,
    children: row.children,
    pushedAt: row.created_at,
    pulledAt: row.pulled_at,
    tags: row.tags.map((tag) => ({
      name: tag.name,
      pushedAt: new Date(tag.pushed_at),
      pulledAt: tag.pulled_at === null ? null : new Date(tag.pulled_at),
    })),
  };
  if (row.artifact_type !== null) artifact.artifactType = row.artifact_type;
  if (row.subject_digest !== null) artifact.subject = row.subject_digest;
  if (row.annotations !== null) artifact.annotations = row.annotations;
  return artifact;
}

/** The repository's id, creating the row if needed (safe against concurrent creators). */
async function ensureRepository(tx: SqlExecutor, name: string): Promise<number> {
  const select = 'SELECT id FROM repositories WHERE name = $1';
  const found = await tx.query<{ id: number }>(select, [name], PREPARED);
  if (found[0]) return found[0].id;
  const inserted = await tx.query<{ id: number }>(
    'INSERT INTO repositories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id',
    [name],
    PREPARED,
  );
  if (inserted[0]) return inserted[0].id;
  // Another transaction created it after our SELECT and has committed (ON CONFLICT waited for
  // it); READ COMMITTED gives this statement a snapshot that sees it.
  const again = await tx.query<{ id: number }>(select, [name], PREPARED);
  if (!again[0]) throw new Error(`repository ${name} vanished while being created`);
  return again[0].id;
}

/** SQL LIMIT value: NULL means no limit. */
function pageLimit(page: Page): number | null {
  if (page.limit === undefined) return null;
  if (!Number.isInteger(page.limit) || page.limit < 0) throw new RangeError(`page limit must be a non-negative integer, got ${page.limit}`);
  return page.limit;
}

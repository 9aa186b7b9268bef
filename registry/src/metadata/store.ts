/**
 * The metadata seam: repositories, blob links, manifests, tags and referrers.
 * One SQL schema (metadata/migrations/*.sql) serves PostgreSQL (production, `pg`) and
 * PGlite (embedded); both run the same SqlMetadataStore over the SqlDatabase adapter below.
 *
 * Every implementation passes the shared suite in registry/test/metadata/store-suite.ts.
 */

/**
 * Both adapters return the same JS types: bigint and numeric columns as numbers, bytea as
 * Buffer, timestamptz as Date, json/jsonb parsed.
 */
export interface SqlDatabase extends SqlExecutor {
  /** "postgres" or "pglite", for logs and health output. */
  readonly name: string;
  /** Whether other processes (replicas) may write to it too: false for PGlite, which one process opens at a time. */
  readonly shared: boolean;
  /** Run `work` in one transaction on one connection; rolled back if it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface SqlQueryOptions {
  /**
   * Keep the statement prepared on the connection (a named statement in `pg`) and reuse it.
   * For fixed hot-path SQL only: every distinct text becomes one prepared statement.
   */
  prepare?: boolean;
}

export interface SqlExecutor {
  /** One statement, parameters as $1, $2, ... */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: SqlQueryOptions): Promise<Row[]>;
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface BlobRecord {
  digest: string;
  size: number;
}

/** A manifest as stored: the exact bytes pushed plus what the registry derived from them. */
export interface ManifestRecord {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  content: Buffer;
  /** artifactType, else config.mediaType (for referrers). */
  artifactType?: string;
  /** Digest of the manifest this one refers to (`subject`), if any. */
  subject?: string;
  annotations?: Record<string, string>;
  createdAt: Date;
}

/** What a manifest references, recorded for garbage collection and delete checks. */
export interface ManifestReferences {
  /** Config and layer digests (blobs). */
  blobs: string[];
  /** Child manifest digests (image index / manifest list). */
  manifests: string[];
}

export interface NewManifest {
  repository: string;
  digest: string;
  mediaType: string;
  content: Buffer;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  references: ManifestReferences;
}

/** A referrer as the referrers API lists it (an OCI descriptor). */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Page {
  /** At most this many entries; undefined means no limit. */
  limit?: number;
  /** Return entries strictly after this one, in lexical order. */
  after?: string;
}

/** Harbor-style offset pagination for management listings: `page` counts from 1. */
export interface OffsetPage {
  page: number;
  pageSize: number;
}

/** One page of results and the total count of matches (Harbor's X-Total-Count). */
export interface Paged<T> {
  items: T[];
  total: number;
}

/** A repository as the management API lists it (Harbor's Repository). */
export interface RepositorySummary {
  name: string;
  /** First path component (the Harbor project). */
  project: string;
  /** Manifests stored in the repository (Harbor's artifact_count). */
  artifactCount: number;
  createdAt: Date;
  /** Last manifest or tag push into the repository; createdAt when there was none. */
  updatedAt: Date;
}

export interface TagSummary {
  name: string;
  pushedAt: Date;
  /** Null when never pulled through this tag. */
  pulledAt: Date | null;
}

/** A manifest as the management API lists it (Harbor's Artifact), with its tags. */
export interface ArtifactSummary {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  /** Child manifests of an index (Harbor's `references`), in digest order. */
  children: string[];
  pushedAt: Date;
  pulledAt: Date | null;
  /** Tags pointing at it, by name. */
  tags: TagSummary[];
}

export interface ArtifactFilter {
  /** true: only tagged manifests; false: only untagged ones. */
  tagged?: boolean;
}

/** An open upload session (domain/uploads.ts); its bytes are in blob storage. */
export interface UploadSessionRecord {
  /** A UUID. */
  id: string;
  repository: string;
  startedAt: Date;
  /** The digest algorithm asked for when it was opened. */
  algorithm?: string;
}

export interface MetadataStore {
  readonly name: string;
  /** Whether other processes (replicas) may write to it too (SqlDatabase.shared). */
  readonly shared: boolean;
  /** Apply pending migrations (under an advisory lock, so replicas may start together). */
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  // Blobs: one row per verified blob, shared by every repository; links say who may see it.
  getBlob(digest: string): Promise<BlobRecord | undefined>;
  /** Record a verified blob (idempotent) and link it to `repository` (creating the repository). */
  putBlob(repository: string, blob: BlobRecord): Promise<void>;
  /** The blob if it is linked to `repository`. */
  getLinkedBlob(repository: string, digest: string): Promise<BlobRecord | undefined>;
  /** Remove the link; true when a link existed. The blob row stays for garbage collection. */
  unlinkBlob(repository: string, digest: string): Promise<boolean>;

  // Manifests and tags.
  /**
   * Store a manifest (idempotent on repository+digest) with its references, and point
   * `tags` at it, in one transaction. Creates the repository if needed.
   */
  putManifest(manifest: NewManifest, tags: string[]): Promise<void>;
  getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined>;
  /** The digest a tag points to. */
  resolveTag(repository: string, tag: string): Promise<string | undefined>;
  /** Delete a manifest and every tag pointing to it; true when it existed. */
  deleteManifest(repository: string, digest: string): Promise<boolean>;
  /** Delete one tag; true when it existed. */
  deleteTag(repository: string, tag: string): Promise<boolean>;
  /** Tags of a repository in lexical order; undefined when the repository does not exist. */
  listTags(repository: string, page: Page): Promise<string[] | undefined>;
  /** Repository names in lexical order. */
  listRepositories(page: Page): Promise<string[]>;
  /** Manifests in `repository` whose subject is `subject`, optionally filtered by artifactType. */
  listReferrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerDescriptor[]>;

  /** Point `tag` at a manifest already in the repository; false when that manifest is not there. */
  tagManifest(repository: string, tag: string, digest: string): Promise<boolean>;
  /**
   * Record a pull (for retention rules and Harbor's pull_time): the manifest's and, when
   * pulled through a tag, the tag's pulledAt. Unknown manifests and tags are ignored.
   */
  recordPull(repository: string, digest: string, tag?: string): Promise<void>;

  // Management listings (/api/v2.0), Harbor-style pages. Throw InvalidInputError (errors.ts)
  // for a bad page.
  /** Repositories of a project by name; `name` filters by substring. */
  listProjectRepositories(project: string, filter: { name?: string }, page: OffsetPage): Promise<Paged<RepositorySummary>>;
  getRepository(repository: string): Promise<RepositorySummary | undefined>;
  /** Delete a repository with its manifests, tags and blob links; false when it did not exist. */
  deleteRepository(repository: string): Promise<boolean>;
  /** Manifests of a repository, newest push first; undefined when the repository does not exist. */
  listArtifacts(repository: string, filter: ArtifactFilter, page: OffsetPage): Promise<Paged<ArtifactSummary> | undefined>;
  getArtifact(repository: string, digest: string): Promise<ArtifactSummary | undefined>;

  // Upload sessions: a row exists while the session is open.
  /** Record a new session (`startedAt` is the database's clock). */
  createUploadSession(session: { id: string; repository: string; algorithm?: string }): Promise<void>;
  getUploadSession(id: string): Promise<UploadSessionRecord | undefined>;
  /** End a session; false when it was not open. */
  deleteUploadSession(id: string): Promise<boolean>;
  /** Sessions opened before `before`, by id, at most `limit` of them, from the first id after `afterId`. */
  listUploadSessionsStartedBefore(before: Date, limit: number, afterId?: string): Promise<UploadSessionRecord[]>;
}

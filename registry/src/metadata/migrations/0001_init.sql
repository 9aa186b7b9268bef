-- 0001: repositories, blobs and their links, manifests, references, tags.
--
-- Conventions for every migration:
--   * Names (repositories, tags) and digests use COLLATE "C": ordering and keyset pagination
--     (`WHERE name > $after ORDER BY name`) are bytewise, as the OCI spec's "lexical" order
--     means, whatever the cluster's default collation is.
--   * Times are timestamptz; sizes are bigint (bytes).
--   * A migration never edits an applied file: add the next numbered file instead (migrate()
--     refuses to start when an applied file's checksum changed).

-- A repository, e.g. "library/nginx". Created on the first blob link or manifest push.
CREATE TABLE repositories (
  -- Surrogate key, so the long name is stored once and child rows stay small.
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Full repository name as validated by the API layer (lower case, '/'-separated).
  name       text COLLATE "C" NOT NULL UNIQUE,
  -- First path component: the Harbor-style project this repository belongs to (quotas,
  -- permissions). A repository without '/' is its own project.
  project    text COLLATE "C" GENERATED ALWAYS AS (split_part(name, '/', 1)) STORED,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Repositories of one project, for project listings and per-project quota sums.
CREATE INDEX repositories_project ON repositories (project, name);

-- One row per verified blob content, shared by all repositories (storage is deduplicated).
-- Rows outlive their links: garbage collection deletes a blob row (and the stored bytes)
-- only when nothing links or references it and it was last seen before its time window.
CREATE TABLE blobs (
  -- "<algorithm>:<hex>", verified against the bytes before the row is written.
  digest       text COLLATE "C" PRIMARY KEY,
  size         bigint NOT NULL CHECK (size >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Last time a push or mount linked this blob: GC keeps blobs seen within its window, so a
  -- push that is about to reference a blob never loses it.
  last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Which repositories may serve a blob (an upload, a mount, or a manifest push linked it).
CREATE TABLE repository_blobs (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest        text COLLATE "C" NOT NULL REFERENCES blobs (digest),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, digest)
);
-- "Is this blob linked anywhere?" (GC) and deduplicated quota sums across repositories.
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

-- A manifest (image manifest, index, Docker schema 2 / list, artifact) stored in a repository.
-- The same digest in two repositories is two rows: each repository has its own lifecycle.
CREATE TABLE manifests (
  repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest         text COLLATE "C" NOT NULL,
  -- Content-Type it was pushed with (served back verbatim).
  media_type     text NOT NULL,
  -- Byte length of `content`.
  size           bigint NOT NULL CHECK (size >= 0),
  -- The exact bytes pushed (at most 4 MiB, enforced by the API): digests cover these bytes.
  content        bytea NOT NULL,
  -- artifactType, else config.mediaType: the referrers API filters on it.
  artifact_type  text,
  -- Digest of the manifest named in `subject` (a referrer), if any.
  subject_digest text COLLATE "C",
  -- The manifest's annotations (returned in referrer descriptors).
  annotations    jsonb,
  -- Push time: retention rules ("pushed within N days") and Harbor's push_time.
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- Last pull by digest or tag, for retention rules and Harbor's pull_time; NULL when never.
  pulled_at      timestamptz,
  PRIMARY KEY (repository_id, digest)
);
-- Referrers lookup: the manifests of a repository whose subject is a given digest.
CREATE INDEX manifests_subject ON manifests (repository_id, subject_digest)
  WHERE subject_digest IS NOT NULL;

-- What each manifest references: config and layers (blobs), children of an index
-- (manifests). Used by GC marking and to refuse deleting a manifest an index still needs.
CREATE TABLE manifest_references (
  repository_id   bigint NOT NULL,
  manifest_digest text COLLATE "C" NOT NULL,
  child_digest    text COLLATE "C" NOT NULL,
  child_kind      text NOT NULL CHECK (child_kind IN ('blob', 'manifest')),
  PRIMARY KEY (repository_id, manifest_digest, child_digest, child_kind),
  FOREIGN KEY (repository_id, manifest_digest)
    REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
-- "Who references this digest?": GC marking across repositories.
CREATE INDEX manifest_references_child ON manifest_references (child_digest);

-- A tag names one manifest of its repository. Deleting the manifest deletes its tags.
CREATE TABLE tags (
  repository_id   bigint NOT NULL,
  name            text COLLATE "C" NOT NULL,
  manifest_digest text COLLATE "C" NOT NULL,
  -- Last time the tag was pushed (created or moved): "retain the most recently pushed N".
  pushed_at       timestamptz NOT NULL DEFAULT now(),
  -- Last pull through this tag: "retain the most recently pulled N"; NULL when never.
  pulled_at       timestamptz,
  -- Last change of any kind to the row.
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, name),
  FOREIGN KEY (repository_id, manifest_digest)
    REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
-- Tags of a manifest (manifest delete, Harbor's artifact view).
CREATE INDEX tags_manifest ON tags (repository_id, manifest_digest);

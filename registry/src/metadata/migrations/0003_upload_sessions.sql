-- 0003: upload sessions; the conventions of 0001 apply.
--
-- One row per session a POST /v2/<name>/blobs/uploads/ opened and no PUT or DELETE has ended
-- yet (domain/uploads.ts). The row is what makes a session exist, for every replica and across
-- restarts; the bytes received so far are in blob storage under _uploads/<id>/, and the running
-- digests and the session's lock are in the cache. A session is opened with one INSERT, where
-- it used to be a file written, fsynced and renamed into storage (and a PUT on S3).
CREATE TABLE upload_sessions (
  -- The <uuid> of /v2/<name>/blobs/uploads/<uuid>.
  id          uuid PRIMARY KEY,
  -- The repository the session was opened in: it continues in that one only. No key to
  -- repositories: the repository has no row until its first blob or manifest.
  repository  text COLLATE "C" NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  -- The digest algorithm asked for at POST (validated by the API layer, oci/grammar.ts);
  -- NULL: the one the closing PUT names.
  algorithm   text
);
-- Sessions abandoned by their clients (BlobUploadSessions.purgeAbandoned).
CREATE INDEX upload_sessions_started_at ON upload_sessions (started_at);

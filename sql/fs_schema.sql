-- The schema of a filesystem store: <cache_dir>/pocketcache.db.
--
-- core/pc_fs.c runs this text, embedded at build time, once, when it finds
-- a new empty database, in the same transaction that sets
-- PRAGMA user_version (the store format) and application_id (what tells a
-- PocketCache store from any other SQLite file).
--
-- entry: one row per cache entry, in key order (WITHOUT ROWID: a lookup
-- is one b-tree descent). key and value are the bytes the engine hands the
-- backend (the value already encoded by the serializer). expires is Unix
-- time in milliseconds, 9223372036854775807 for an entry that never
-- expires. xb is the expiry bucket, expires >> 16 (units of about 65 s),
-- NULL when it never expires: the index is on the bucket, so refreshing an
-- entry with the same TTL within a minute does not rewrite the index.
-- size is length(key) + length(value), the bytes the max_bytes
-- bound counts. visited is the eviction policy's second-chance bit: set
-- (in batches, never by the read itself) when the entry is read, cleared as
-- the clock hand passes.
CREATE TABLE entry(
  key BLOB PRIMARY KEY,
  value BLOB NOT NULL,
  expires INTEGER NOT NULL,
  xb INTEGER,
  size INTEGER NOT NULL,
  visited INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Entries that can expire, earliest bucket first: what the reclamation
-- step of a write reads, without a scan.
CREATE INDEX entry_expires ON entry(xb) WHERE xb IS NOT NULL;

-- One row of totals, changed in the transaction of every write that
-- changes them, so that bounds are checked without counting and every
-- process sees the same numbers. hand is the key where the eviction clock
-- stopped (NULL: at the start).
CREATE TABLE meta(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  evictions INTEGER NOT NULL,
  expirations INTEGER NOT NULL,
  hand BLOB
);
INSERT INTO meta VALUES (1, 0, 0, 0, 0, NULL);

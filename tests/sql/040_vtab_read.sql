-- The pcache table: live entries of a cache.
SELECT cache_set('user:1', 'ada', 60), cache_set('user:2', 'bob'), cache_set('User:3', 'cy'),
       cache_set('page:/', x'3c68746d6c3e'), cache_set(x'ff00', 'binary key');
SELECT key, value, typeof(key), ttl IS NULL, expires_at IS NULL, size, cache FROM pcache ORDER BY key;
-- ttl counts down from the TTL; expires_at is Unix time.
SELECT ttl BETWEEN 59 AND 60, abs(expires_at - ((julianday('now') - 2440587.5) * 86400 + 60)) < 1 FROM pcache WHERE key = 'user:1';
-- key = ? is a point lookup, planned by xBestIndex, not a scan.
EXPLAIN QUERY PLAN SELECT * FROM pcache WHERE key = 'user:1';
SELECT value FROM pcache WHERE key = 'user:1';
SELECT count(*) FROM pcache WHERE key = 'nope';
-- key IN (...) fetches the whole list in one call (pc_get_items).
SELECT key, ttl IS NULL FROM pcache WHERE key IN ('user:1', 'nope', NULL, 'user:1') ORDER BY key;
EXPLAIN QUERY PLAN SELECT key FROM pcache WHERE key IN ('a', 'b');
SELECT count(*) FROM pcache WHERE key = NULL;
SELECT key FROM pcache WHERE key IN ('user:2', 'page:/', 'nope') ORDER BY key;
-- GLOB and LIKE scan only the prefix; LIKE is case-insensitive as in SQL.
EXPLAIN QUERY PLAN SELECT * FROM pcache WHERE key GLOB 'user:*';
SELECT key FROM pcache WHERE key GLOB 'user:*' ORDER BY key;
SELECT key FROM pcache WHERE key LIKE 'user:%' ORDER BY key;
SELECT key FROM pcache WHERE key GLOB 'u*:[12]' ORDER BY key;
SELECT key FROM pcache WHERE key LIKE '%:1' ORDER BY key;
-- Other caches through the hidden column, as a table-valued function.
SELECT cache_open('api');
SELECT cache_set('GET /a', 'A', NULL, 'api');
SELECT key, value, cache FROM pcache('api');
SELECT key FROM pcache WHERE cache = 'api';
EXPLAIN QUERY PLAN SELECT * FROM pcache('api') WHERE key = 'GET /a';
SELECT value FROM pcache('api') WHERE key = 'GET /a';
SELECT * FROM pcache('nope');
-- A join that names caches from another table.
CREATE TABLE wanted(name TEXT);
INSERT INTO wanted VALUES ('api'), ('default');
SELECT w.name, count(p.key) FROM wanted w JOIN pcache p ON p.cache = w.name GROUP BY w.name ORDER BY w.name;
-- Expired entries never appear.
SELECT cache_set('brief', 1, 0.001);
.sleep 20
SELECT count(*) FROM pcache WHERE key = 'brief';
SELECT count(*) FROM pcache WHERE key GLOB 'brief*';
-- Values keep their types in the table.
SELECT cache_set('types:i', 7), cache_set('types:r', 2.5), cache_set('types:n', NULL), cache_set('types:e', '');
SELECT key, quote(value), typeof(value) FROM pcache WHERE key GLOB 'types:*' ORDER BY key;
-- key = ? under another collation is left to SQLite: both 'a' and 'A'.
SELECT cache_set('a', 1), cache_set('A', 2);
SELECT key FROM pcache WHERE key = 'a' COLLATE NOCASE ORDER BY key;
EXPLAIN QUERY PLAN SELECT * FROM pcache WHERE key = 'a' COLLATE NOCASE;

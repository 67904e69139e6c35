-- cache_query and pcache_view on every backend: memory (090, 091), the
-- filesystem backend, with its json serializer too, and Redis ($redis is
-- the test server's URL).
.open data.db
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, b BLOB);
INSERT INTO t VALUES (1, 'a', x'01'), (2, 'b', NULL);
SELECT cache_open('disk', '{"backend":"filesystem","cache_dir":"store"}');
SELECT cache_open('disk_json', '{"backend":"filesystem","cache_dir":"store_json","serializer":"json"}');
SELECT cache_open('r', json_object('backend','redis','url',$redis,'prefix','t093:'));
SELECT cache_clear('r');
SELECT cache_query('SELECT * FROM t ORDER BY id', 60, 'disk');
SELECT cache_query('SELECT * FROM t ORDER BY id', 60, 'disk_json');
SELECT cache_query('SELECT * FROM t ORDER BY id', 60, 'r');
CREATE VIRTUAL TABLE v_disk USING pcache_view(sql='SELECT id, name, b FROM t WHERE id >= ?1 ORDER BY id', ttl=60, cache=disk);
CREATE VIRTUAL TABLE v_json USING pcache_view(sql='SELECT id, name, b FROM t WHERE id >= ?1 ORDER BY id', ttl=60, cache=disk_json, invalidate=auto);
CREATE VIRTUAL TABLE v_redis USING pcache_view(sql='SELECT id, name, b FROM t WHERE id >= ?1 ORDER BY id', ttl=60, cache=r, invalidate=auto);
SELECT * FROM v_disk(1);
SELECT * FROM v_json(1);
SELECT * FROM v_redis(1);
-- Hits: a write is not seen without invalidate=auto, and is with it.
UPDATE t SET name = 'z' WHERE id = 2;
SELECT cache_query('SELECT * FROM t ORDER BY id', 60, 'disk');
SELECT cache_query('SELECT * FROM t ORDER BY id', 60, 'disk_json');
SELECT cache_query('SELECT * FROM t ORDER BY id', 60, 'r');
SELECT * FROM v_disk(1);
SELECT * FROM v_json(1);
SELECT * FROM v_redis(1);
SELECT * FROM v_json(1);
SELECT json_extract(cache_stats('disk'), '$.hits'), json_extract(cache_stats('disk_json'), '$.hits'), json_extract(cache_stats('r'), '$.hits');
-- Where the serializer takes no BLOB (json), a view's rows are stored as
-- base64 TEXT.
SELECT typeof(value), count(*) FROM pcache('disk_json') WHERE key GLOB 'pcache:query:*' GROUP BY 1;
-- The entries persist: a reopened filesystem cache still has them.
SELECT cache_close('disk');
SELECT cache_open('disk', '{"backend":"filesystem","cache_dir":"store"}');
SELECT * FROM v_disk(2);
SELECT json_extract(cache_stats('disk'), '$.hits');
SELECT cache_clear('r');
-- A database made again at the same path (or restored from a copy) is
-- not the one a persistent entry was computed from: the change counters
-- start at random values, so its views miss instead of serving the old
-- database's rows.
.open again.db
CREATE TABLE t(x);
INSERT INTO t VALUES (1);
CREATE VIRTUAL TABLE v USING pcache_view(sql='SELECT count(*) AS n FROM t', ttl=600, cache=disk, invalidate=auto);
SELECT * FROM v;
.shell rm again.db
.open again.db
CREATE TABLE t(x);
INSERT INTO t VALUES (1), (2), (3), (4), (5);
CREATE VIRTUAL TABLE v USING pcache_view(sql='SELECT count(*) AS n FROM t', ttl=600, cache=disk, invalidate=auto);
SELECT * FROM v;
-- A view definition names a cache; it never opens one. Read from a file
-- with trusted_schema=OFF after its cache was closed, it is an error and
-- no store is made.
SELECT cache_close('disk');
.shell rm -rf store
.open again.db
PRAGMA trusted_schema=OFF;
CREATE VIRTUAL TABLE v_disk2 USING pcache_view(sql='SELECT count(*) AS n FROM t', cache=disk);
SELECT cache_open('disk', '{"backend":"filesystem","cache_dir":"store"}');
CREATE VIRTUAL TABLE v_disk2 USING pcache_view(sql='SELECT count(*) AS n FROM t', cache=disk);
SELECT cache_close('disk');
.shell rm -rf store
.open again.db
PRAGMA trusted_schema=OFF;
SELECT * FROM v_disk2;
.shell ls -d store 2>&1 || true

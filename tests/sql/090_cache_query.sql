-- cache_query(sql [, ttl [, cache]]): the rows of a read-only statement as a
-- JSON array of objects, run on a miss and served from the cache after.
CREATE TABLE orders(id INTEGER PRIMARY KEY, region TEXT, total REAL, note BLOB);
INSERT INTO orders VALUES (1, 'eu', 10.5, NULL), (2, 'us', 20, x'00ff10'),
  (3, 'eu', 1e300 * 1e300, x'');
SELECT cache_query('SELECT region, count(*) AS n, sum(total) AS total FROM orders GROUP BY region ORDER BY region', 60);
-- Every type: INTEGER and REAL stay apart (a REAL always has a '.' or an
-- exponent), TEXT is escaped, BLOB is {"$base64": ...}, NULL is null.
SELECT cache_query('SELECT 1 AS i, 1.0 AS r, -0.0 AS z, 0.1 AS d, 9223372036854775807 AS big, -9223372036854775808 AS small, 2e-300 AS tiny');
SELECT cache_query('SELECT ''a"b\c'' || char(10, 9, 1) || ''é'' AS t, NULL AS n, x''00ff10'' AS b, x'''' AS e, zeroblob(4) AS zb');
SELECT cache_query('SELECT * FROM orders ORDER BY id');
SELECT cache_query('SELECT 1 WHERE 0');
-- The JSON subtype: json functions read the result directly.
SELECT value ->> 'region', value ->> 'total' FROM json_each(cache_query('SELECT region, total FROM orders ORDER BY id'));
-- A hit: the rows come from the cache, not from the table.
SELECT cache_stats() ->> '$.hits' AS hits_before;
UPDATE orders SET total = 99 WHERE id = 1;
SELECT cache_query('SELECT region, count(*) AS n, sum(total) AS total FROM orders GROUP BY region ORDER BY region', 60);
SELECT cache_stats() ->> '$.hits' AS hits_after;
-- The key: "pcache:query:" and a hash of the databases and the SQL text;
-- another text is another key.
SELECT count(*), min(key GLOB 'pcache:query:[0-9a-f]*'), min(length(key)) FROM pcache WHERE key GLOB 'pcache:query:*';
SELECT cache_query('select region, count(*) AS n, sum(total) AS total FROM orders GROUP BY region ORDER BY region', 60);
-- The TTL: the cache's rules (here 60 s).
SELECT ttl > 59 AND ttl <= 60 FROM pcache WHERE key GLOB 'pcache:query:*' AND value LIKE '%"n":2%' LIMIT 1;
-- In a named cache.
-- (The stored entry holds the databases and the SQL text too: they count
-- against max_value_bytes.)
SELECT cache_open('q', '{"max_value_bytes": 200}');
SELECT cache_query('SELECT id FROM orders ORDER BY id', NULL, 'q');
SELECT count(*) FROM pcache('q');
-- A result over max_value_bytes is an error, not a truncation; nothing is stored.
SELECT cache_query('SELECT * FROM orders', NULL, 'q');
SELECT cache_query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c', NULL, 'q');
SELECT count(*) FROM pcache('q');
-- In a write transaction the statement runs every time and nothing is read
-- from or stored in the cache: its uncommitted rows are not for others.
BEGIN;
INSERT INTO orders VALUES (4, 'asia', 5, NULL);
SELECT cache_query('SELECT id FROM orders ORDER BY id', NULL, 'q');
ROLLBACK;
SELECT cache_query('SELECT id FROM orders ORDER BY id', NULL, 'q');
-- While the connection has TEMP tables, views or triggers, nothing is
-- read from or stored in the cache: TEMP data belongs to one connection,
-- and a TEMP view may shadow a main table of the same name.
SELECT cache_query('SELECT id FROM orders ORDER BY id', NULL, 'q');
SELECT cache_stats('q') ->> '$.hits';
CREATE TEMP VIEW orders AS SELECT 42 AS id;
SELECT cache_query('SELECT id FROM orders ORDER BY id', NULL, 'q');
SELECT cache_stats('q') ->> '$.hits';
DROP VIEW temp.orders;
CREATE TEMP TABLE mine(x);
INSERT INTO mine VALUES (1);
SELECT cache_query('SELECT x FROM mine');
INSERT INTO mine VALUES (2);
SELECT cache_query('SELECT x FROM mine');
-- Bad input.
SELECT cache_query('DELETE FROM orders');
SELECT cache_query('INSERT INTO orders(id) VALUES (9)');
SELECT cache_query('SELECT 1; SELECT 2');
SELECT cache_query('BEGIN');
SELECT cache_query('ATTACH '':memory:'' AS other');
SELECT cache_query('EXPLAIN SELECT 1');
SELECT cache_query('SELECT ?1');
SELECT cache_query('SELECT :name');
SELECT cache_query('SELECT * FROM nowhere');
SELECT cache_query('');
SELECT cache_query('-- only a comment');
SELECT cache_query(NULL);
SELECT cache_query(42);
SELECT cache_query('SELECT 1', 0);
SELECT cache_query('SELECT 1', 'abc');
SELECT cache_query('SELECT 1', 60, 'nope');
SELECT cache_query('SELECT 1', 60, NULL);
SELECT cache_query('SELECT abs(-9223372036854775808)');
SELECT count(*) FROM orders;
DROP TABLE mine;
-- A cached statement may itself call cache_query (another key).
SELECT cache_query('SELECT cache_query(''SELECT 7 AS x'') AS inner');
-- A statement whose rows need its own result (it runs cache_query of
-- itself) is an error, not a wait for itself.
CREATE TABLE qs(s TEXT);
INSERT INTO qs VALUES ('SELECT cache_query(s) FROM qs');
SELECT cache_query(s) FROM qs;
-- An entry of the right form but of another query (what a hash collision
-- would look like) is a miss: the query runs again and replaces it.
SELECT cache_set(key, 'pcq1:3:abc[{"i":0}]') FROM pcache WHERE key GLOB 'pcache:query:*' AND value LIKE '%"i":1,%';
SELECT cache_query('SELECT 1 AS i, 1.0 AS r, -0.0 AS z, 0.1 AS d, 9223372036854775807 AS big, -9223372036854775808 AS small, 2e-300 AS tiny');
-- A value under a query key that is not a stored result of this query is a
-- miss: the query runs again and replaces it.
SELECT cache_set(key, 'junk') FROM pcache WHERE key GLOB 'pcache:query:*' AND value LIKE '%"i":1,%';
SELECT cache_query('SELECT 1 AS i, 1.0 AS r, -0.0 AS z, 0.1 AS d, 9223372036854775807 AS big, -9223372036854775808 AS small, 2e-300 AS tiny');

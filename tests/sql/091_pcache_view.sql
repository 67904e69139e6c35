-- pcache_view: a cached view with parameters. Columns are the statement's
-- result columns (names, declared types); each parameter is a hidden
-- argument column, so the view is called like a table-valued function.
.open views.db
CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, total REAL, note TEXT, data BLOB);
INSERT INTO orders(user_id, total, note, data) VALUES (1, 10, 'a', x'00ff'), (1, 20.5, NULL, NULL), (2, 7, 'c''d', x'');
CREATE VIRTUAL TABLE user_orders USING pcache_view(sql='SELECT id, total, note, data, 7 AS seven FROM orders WHERE user_id = ?1 ORDER BY id', ttl=60);
SELECT * FROM user_orders(1);
SELECT *, "?1" FROM user_orders(2);
SELECT name, type, hidden FROM pragma_table_xinfo('user_orders');
-- Every type comes back as it was (the rows are stored typed).
SELECT typeof(id), typeof(total), typeof(note), typeof(data), typeof(seven) FROM user_orders(1);
-- The second read is a hit: a write without invalidate=auto is not seen
-- until the TTL ends.
SELECT cache_stats() ->> '$.hits' AS hits;
UPDATE orders SET total = 99 WHERE id = 1;
SELECT id, total FROM user_orders(1);
SELECT cache_stats() ->> '$.hits' AS hits;
-- Arguments are typed: 1 and '1' are different keys (and results).
SELECT count(*) FROM user_orders('1');
SELECT count(*) FROM user_orders(NULL);
-- In a join, the argument comes from the other table.
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
SELECT u.name, count(o.id) FROM users u LEFT JOIN user_orders(u.id) o GROUP BY u.id ORDER BY u.id;
SELECT name, (SELECT sum(total) FROM user_orders(users.id)) FROM users ORDER BY id;
-- Named parameters are columns without their prefix; several arguments.
CREATE VIRTUAL TABLE range_orders USING pcache_view(sql='SELECT id FROM orders WHERE user_id = :user AND total >= @min ORDER BY id');
SELECT id FROM range_orders(1, 15);
SELECT id FROM range_orders WHERE user = 1 AND min = 0;
SELECT name, hidden FROM pragma_table_xinfo('range_orders');
-- Without parameters.
-- ttl: absent or NULL is the cache's default_ttl, -1 never expires.
SELECT cache_open('short', '{"default_ttl": 5}');
CREATE VIRTUAL TABLE totals USING pcache_view(sql='SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id ORDER BY user_id', cache=short);
CREATE VIRTUAL TABLE totals_forever USING pcache_view(sql='SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id', ttl=-1, cache=short);
SELECT * FROM totals;
SELECT count(*) FROM totals_forever;
SELECT typeof(value), ttl > 4 AND ttl <= 5 FROM pcache('short') WHERE key GLOB 'pcache:query:*' AND ttl IS NOT NULL;
SELECT typeof(value) FROM pcache('short') WHERE key GLOB 'pcache:query:*' AND ttl IS NULL;
-- Not every argument: a clear error.
SELECT * FROM user_orders;
SELECT * FROM range_orders(1);
SELECT * FROM user_orders WHERE "?1" > 0;
-- Bad definitions.
CREATE VIRTUAL TABLE bad USING pcache_view(ttl=60);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='DELETE FROM orders');
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1; SELECT 2');
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT nope FROM orders');
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1 AS a, 2 AS a');
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT ?1 AS "?1"');
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1', ttl=0);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1', ttl='soon');
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1', cache=nope);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1', invalidate=always);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1', colour=red);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1', sql='SELECT 2');
CREATE VIRTUAL TABLE bad USING pcache_view('SELECT 1');
-- A result over max_value_bytes is an error, not a truncation.
SELECT cache_open('small', '{"max_value_bytes": 300}');
CREATE VIRTUAL TABLE big USING pcache_view(sql='WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < ?1) SELECT v FROM s', cache=small);
SELECT count(*) FROM big(5);
SELECT count(*) FROM big(500);
-- The definition survives reopening the database; the cache is the
-- process's, so the rows are still cached (the write above is not seen).
.open views.db
SELECT id, total FROM user_orders(1);
SELECT * FROM range_orders(1, 15);
-- A view over another view.
CREATE VIRTUAL TABLE outer_view USING pcache_view(sql='SELECT (SELECT count(*) FROM user_orders(1)) AS n');
SELECT * FROM outer_view;
-- Inside a write transaction nothing is read from or stored in the cache.
BEGIN;
UPDATE orders SET total = 1 WHERE id = 1;
SELECT id, total FROM user_orders(1);
ROLLBACK;
SELECT id, total FROM user_orders(1);
-- Stored bytes that do not decode are a miss: the rows are computed again.
UPDATE pcache SET value = substr(value, 1, length(value) - 3) WHERE key GLOB 'pcache:query:*';
SELECT id, total FROM user_orders(1);
UPDATE pcache SET value = x'00' WHERE key GLOB 'pcache:query:*';
SELECT id, total FROM user_orders(1);
UPDATE pcache SET value = 'pcq1:' WHERE key GLOB 'pcache:query:*';
SELECT id, total FROM user_orders(1);
-- DROP TABLE removes the view.
DROP TABLE range_orders;
SELECT * FROM range_orders(1, 15);

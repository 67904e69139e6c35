-- pcache_view(..., invalidate=auto): a write to a table the statement
-- reads is seen by the next read, whoever writes (this connection,
-- another process without PocketCache), however (INSERT, UPDATE, DELETE,
-- REPLACE, upsert, WITHOUT ROWID tables).
.open auto.db
CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, total REAL);
CREATE INDEX orders_user ON orders(user_id, total);
CREATE TABLE prices(sku TEXT PRIMARY KEY, price REAL) WITHOUT ROWID;
CREATE TABLE other(x);
INSERT INTO orders(user_id, total) VALUES (1, 10), (1, 20), (2, 7);
INSERT INTO prices VALUES ('a', 1.5), ('b', 2);
CREATE VIRTUAL TABLE user_total USING pcache_view(sql='SELECT count(*) AS n, sum(total) AS total FROM orders WHERE user_id = ?1', ttl=-1, invalidate=auto);
CREATE VIRTUAL TABLE price_list USING pcache_view(sql='SELECT sku, price FROM prices ORDER BY sku', ttl=-1, invalidate=auto);
-- The tables read are found from the statement (here through an index
-- only): triggers count their writes in pcache_view_gen.
SELECT * FROM pcache_view_watch ORDER BY view;
SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name;
SELECT * FROM user_total(1);
SELECT * FROM price_list;
SELECT cache_stats() ->> '$.hits', cache_stats() ->> '$.misses';
SELECT * FROM user_total(1);
SELECT cache_stats() ->> '$.hits', cache_stats() ->> '$.misses';
-- A write to another table keeps the cached rows.
INSERT INTO other VALUES (1);
SELECT * FROM user_total(1);
SELECT cache_stats() ->> '$.hits', cache_stats() ->> '$.misses';
-- Every kind of write is seen.
INSERT INTO orders(user_id, total) VALUES (1, 5);
SELECT * FROM user_total(1);
UPDATE orders SET total = total + 1 WHERE user_id = 1;
SELECT * FROM user_total(1);
DELETE FROM orders WHERE total = 6;
SELECT * FROM user_total(1);
REPLACE INTO orders(id, user_id, total) VALUES (1, 1, 100);
SELECT * FROM user_total(1);
INSERT INTO orders(id, user_id, total) VALUES (2, 1, 50) ON CONFLICT(id) DO UPDATE SET total = excluded.total;
SELECT * FROM user_total(1);
-- WITHOUT ROWID: the update hook of SQLite says nothing of these; the
-- triggers do.
SELECT * FROM price_list;
REPLACE INTO prices VALUES ('a', 9);
SELECT * FROM price_list;
UPDATE prices SET price = 3 WHERE sku = 'b';
SELECT * FROM price_list;
DELETE FROM prices;
SELECT * FROM price_list;
INSERT INTO prices VALUES ('c', 4);
SELECT * FROM price_list;
-- A write in a transaction is seen once committed; a rolled back one
-- never.
BEGIN;
INSERT INTO orders(user_id, total) VALUES (1, 1000);
ROLLBACK;
SELECT * FROM user_total(1);
BEGIN;
INSERT INTO orders(user_id, total) VALUES (1, 1);
COMMIT;
SELECT * FROM user_total(1);
-- Another process, with the sqlite3 shell and no PocketCache loaded.
SELECT * FROM user_total(2);
.shell sqlite3 auto.db "INSERT INTO orders(user_id, total) VALUES (2, 3)"
SELECT * FROM user_total(2);
.shell sqlite3 auto.db "UPDATE prices SET price = 40"
SELECT * FROM price_list;
-- Reopened: the view still watches.
.open auto.db
SELECT * FROM user_total(2);
INSERT INTO orders(user_id, total) VALUES (2, 1);
SELECT * FROM user_total(2);
-- A renamed view keeps its watch; the last view of a table takes its
-- triggers with it on DROP, and the last view of all the two tables.
ALTER TABLE user_total RENAME TO user_sum;
SELECT * FROM pcache_view_watch ORDER BY view;
CREATE VIRTUAL TABLE user_count USING pcache_view(sql='SELECT count(*) AS n FROM orders WHERE user_id = ?1', invalidate=auto);
DROP TABLE user_sum;
SELECT * FROM pcache_view_watch ORDER BY view;
SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'orders';
DROP TABLE user_count;
DROP TABLE price_list;
SELECT name FROM sqlite_schema WHERE name GLOB 'pcache*' ORDER BY name;
-- A watched table dropped and made again has lost its triggers: the view
-- says so rather than serve rows no trigger guards.
CREATE VIRTUAL TABLE all_orders USING pcache_view(sql='SELECT count(*) AS n FROM orders', invalidate=auto);
SELECT * FROM all_orders;
DROP TABLE orders;
CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, total REAL);
SELECT * FROM all_orders;
DROP TABLE all_orders;
-- A view whose statement no longer prepares (its table is gone) says so
-- when read, and can still be dropped, its triggers and tables with it.
CREATE TABLE gone(x);
CREATE VIRTUAL TABLE gone_view USING pcache_view(sql='SELECT x FROM gone', invalidate=auto);
DROP TABLE gone;
.open auto.db
SELECT * FROM gone_view;
DROP TABLE gone_view;
SELECT name FROM sqlite_schema WHERE name GLOB 'pcache*' OR name GLOB 'gone*';
-- What cannot be watched is an error when the view is made.
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT * FROM pcache', invalidate=auto);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT name FROM sqlite_schema', invalidate=auto);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT 1 AS one', invalidate=auto);
ATTACH 'aux.db' AS aux;
CREATE TABLE aux.t(x);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT x FROM aux.t', invalidate=auto);
CREATE TEMP TABLE tt(x);
CREATE VIRTUAL TABLE bad USING pcache_view(sql='SELECT x FROM tt', invalidate=auto);
DETACH aux;
DROP TABLE tt;
-- A watched table renamed, and another made under its name: the triggers
-- went with the renamed table, and the view says so rather than serve the
-- new table's rows unguarded.
CREATE TABLE r(x);
CREATE VIRTUAL TABLE r_count USING pcache_view(sql='SELECT count(*) AS n FROM r', invalidate=auto);
SELECT * FROM r_count;
ALTER TABLE r RENAME TO r_old;
CREATE TABLE r(x);
SELECT * FROM r_count;
-- Making a view on the new table puts triggers on it again.
CREATE VIRTUAL TABLE r_count2 USING pcache_view(sql='SELECT count(*) AS n FROM r', invalidate=auto);
INSERT INTO r VALUES (1), (2);
SELECT * FROM r_count2;
INSERT INTO r VALUES (3);
SELECT * FROM r_count2;
-- A view the statement reads, redefined to read another table: the view
-- notices the table it does not watch.
CREATE TABLE a(x);
CREATE TABLE b(x);
CREATE VIEW ab AS SELECT x FROM a;
CREATE VIRTUAL TABLE ab_count USING pcache_view(sql='SELECT count(*) AS n FROM ab', invalidate=auto);
SELECT * FROM ab_count;
DROP VIEW ab;
CREATE VIEW ab AS SELECT x FROM b;
SELECT * FROM ab_count;
-- ... or returns other columns: an error, never values in the wrong
-- columns.
CREATE VIEW cols AS SELECT x FROM a;
CREATE VIRTUAL TABLE cols_view USING pcache_view(sql='SELECT * FROM cols WHERE ?1 IS NOT NULL');
INSERT INTO a VALUES (1);
SELECT * FROM cols_view(1);
DROP VIEW cols;
CREATE VIEW cols AS SELECT 'new' AS y, x FROM a;
SELECT * FROM cols_view(2);
-- Two cursors of one statement on one key that is not stored (an expired
-- entry): the second does not wait for the first.
CREATE VIRTUAL TABLE short_lived USING pcache_view(sql='SELECT x FROM a', ttl=0.001);
INSERT INTO a SELECT value FROM json_each(json_array(2, 3));
WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO a SELECT i FROM n;
SELECT count(*) FROM short_lived s1, short_lived s2 WHERE s1.x = s2.x;

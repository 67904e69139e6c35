-- Functions are SQLITE_DIRECTONLY and the tables SQLITE_VTAB_DIRECTONLY:
-- views, triggers and CHECK constraints read from a database file cannot
-- reach a cache. A hostile file is made first, then reopened and used.
.open hostile.db
CREATE TABLE t(x);
CREATE VIEW v AS SELECT cache_set('from-view', 1);
CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT cache_set('from-trigger', 1); END;
CREATE TABLE c(x CHECK (cache_set('from-check', x) IS NOT NULL));
CREATE TABLE d(x DEFAULT (cache_get('k')), y AS (cache_incr('from-generated')));
CREATE VIEW vt AS SELECT * FROM pcache;
CREATE VIEW vs AS SELECT * FROM pcache_stats;
CREATE VIRTUAL TABLE evil USING pcache(max_entries=1, serializer=json);
CREATE VIEW ve AS SELECT * FROM evil;
CREATE VIRTUAL TABLE cv USING pcache_view(sql='SELECT count(*) AS n FROM t', ttl=60);
CREATE VIEW vcv AS SELECT * FROM cv;
CREATE TABLE t2(x);
CREATE TRIGGER trq AFTER INSERT ON t2 BEGIN SELECT cache_query('SELECT 1'); END;
.open hostile.db
SELECT * FROM v;
INSERT INTO t VALUES (1);
INSERT INTO t2 VALUES (1);
-- SQLite 3.40 lets a CHECK constraint call a DIRECTONLY function that is
-- not deterministic: the function itself refuses (see README, Safety).
INSERT INTO c VALUES (1);
SELECT * FROM vt;
SELECT * FROM vs;
-- A table declared by the file opens no cache until the application uses
-- it directly: the view over it is refused and nothing was opened.
SELECT * FROM ve;
SELECT cache FROM pcache_stats WHERE cache = 'evil';
-- The same for a cached view: through a view of the file, refused.
SELECT * FROM vcv;
SELECT cache_has('from-view'), cache_has('from-trigger'), cache_has('from-check'), cache_has('from-generated');
-- Direct use works.
SELECT cache_set('direct', 1), cache_get('direct');

-- CREATE VIRTUAL TABLE ... USING pcache(...): a cache named after the table,
-- whose definition comes back when the database file is reopened.
.open declared.db
CREATE VIRTUAL TABLE pages USING pcache(default_ttl=3600, max_bytes='1MB', max_entries=1000);
INSERT INTO pages(key, value) VALUES ('/home', '<html>home</html>');
SELECT key, value, ttl BETWEEN 3599 AND 3600, cache FROM pages;
-- The cache is reachable by name from the functions too.
SELECT cache_get('/home', 'pages'), cache_set('/about', 'about', NULL, 'pages');
SELECT key FROM pages ORDER BY key;
EXPLAIN QUERY PLAN SELECT * FROM pages WHERE key = '/home';
-- Bad definitions are errors that name the key.
CREATE VIRTUAL TABLE bad1 USING pcache(nope=1);
CREATE VIRTUAL TABLE bad2 USING pcache(max_bytes='64XB');
CREATE VIRTUAL TABLE bad3 USING pcache(max_bytes);
CREATE VIRTUAL TABLE bad4 USING pcache(backend=filesystem);
SELECT name FROM sqlite_schema WHERE name LIKE 'bad%';
-- Quoted values.
CREATE VIRTUAL TABLE quoted USING pcache(max_bytes="2MB", default_ttl='60');
-- The cache is opened when a statement first uses the table.
SELECT cache_stats('quoted');
SELECT count(*) FROM quoted;
SELECT json_extract(cache_stats('quoted'), '$.backend');
-- The name default is the always-open cache's.
CREATE VIRTUAL TABLE "default" USING pcache(max_entries=1);
-- A cache of the same name opened with another configuration.
SELECT cache_open('clash', '{"max_entries":5}');
CREATE VIRTUAL TABLE clash USING pcache(max_entries=6);
-- Reopen the file: the tables come back, with the same caches (memory
-- entries live as long as the process).
.open declared.db
SELECT key, value FROM pages ORDER BY key;
SELECT cache_get('/home', 'pages');
-- A closed table cache comes back from its definition on next use.
SELECT cache_close('pages');
SELECT count(*) FROM pages;
SELECT cache_get('/home', 'pages') IS NULL;
-- The table's rows belong to its cache.
INSERT INTO pages(key, value, cache) VALUES ('x', 1, 'other');
-- DROP TABLE closes the cache.
DROP TABLE pages;
SELECT cache_get('/home', 'pages');

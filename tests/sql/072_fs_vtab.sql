-- The pcache table on filesystem caches: lookups, prefix scans, writes,
-- and definitions that come back with the database file.
.open app.db
CREATE VIRTUAL TABLE pages USING pcache(backend=filesystem, cache_dir='pages.cache', default_ttl=3600);
INSERT INTO pages(key, value) VALUES ('/home', 'home'), ('/about', 'about'), ('/blog/1', 'post 1'), ('/blog/2', 'post 2');
INSERT INTO pages(key, value, ttl) VALUES ('/forever', 'f', -1);
SELECT key, value, ttl BETWEEN 3599 AND 3600, size FROM pages ORDER BY key;
SELECT key FROM pages WHERE key GLOB '/blog/*';
SELECT key FROM pages WHERE key LIKE '/BLOG/%';
EXPLAIN QUERY PLAN SELECT * FROM pages WHERE key = '/home';
SELECT value FROM pages WHERE key = '/home';
SELECT key, value FROM pages WHERE key IN ('/home', '/nope', '/about') ORDER BY key;
UPDATE pages SET value = 'home v2' WHERE key = '/home';
UPDATE pages SET ttl = 60 WHERE key = '/about';
DELETE FROM pages WHERE key = '/blog/2';
INSERT INTO pages(key, value) VALUES ('/home', 'again');
INSERT OR REPLACE INTO pages(key, value) VALUES ('/home', 'replaced');
SELECT key, value, ttl IS NULL, round(ttl) FROM pages ORDER BY key;
-- Closed and reopened: the table comes back, its cache is opened again
-- from the definition and the entries are read from disk.
SELECT cache_close('pages');
.open app.db
SELECT key, value FROM pages ORDER BY key;
-- Table definitions never leave the directory they spell.
CREATE VIRTUAL TABLE up USING pcache(backend=filesystem, cache_dir='../elsewhere');
.shell mkdir real && ln -s real via
CREATE VIRTUAL TABLE vialink USING pcache(backend=filesystem, cache_dir='via/c');
-- Expired entries never show, in a scan, a lookup or a prefix scan.
INSERT INTO pages(key, value, ttl) VALUES ('/blog/short', 'gone soon', 0.05);
SELECT count(*) FROM pages WHERE key = '/blog/short';
.sleep 120
SELECT key FROM pages ORDER BY key;
SELECT count(*) FROM pages WHERE key = '/blog/short';
SELECT key FROM pages WHERE key GLOB '/blog/*';
-- With trusted_schema OFF a table definition opens memory caches only.
.open app.db
PRAGMA trusted_schema = OFF;
SELECT count(*) FROM pages;
CREATE VIRTUAL TABLE mem USING pcache(max_entries=10);
SELECT count(*) FROM mem;

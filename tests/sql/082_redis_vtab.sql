-- The pcache table over a Redis cache: scans are SCAN MATCH under the
-- prefix, writes are SET/UNLINK. ($redis is the test server's URL.)
SELECT cache_open('rv', json_object('backend','redis','url',$redis,'prefix','t082:'));
SELECT cache_clear('rv');
INSERT INTO pcache(key, value, ttl, cache) VALUES ('user:1', 'Ada', NULL, 'rv'), ('user:2', 'Bob', 60, 'rv'), ('User:3', 3, NULL, 'rv'), ('job:1', x'01', NULL, 'rv'), ('us*r', 'glob', NULL, 'rv');
SELECT key, value, ttl IS NULL, ttl BETWEEN 59 AND 60, size FROM pcache('rv') ORDER BY key;
-- A plain INSERT on a live key is a constraint error; OR REPLACE overwrites.
INSERT INTO pcache(key, value, cache) VALUES ('user:1', 'Eve', 'rv');
INSERT OR REPLACE INTO pcache(key, value, cache) VALUES ('user:1', 'Eve', 'rv');
-- Point lookups and prefix scans.
SELECT value FROM pcache('rv') WHERE key = 'user:1';
EXPLAIN QUERY PLAN SELECT value FROM pcache('rv') WHERE key = 'user:1';
SELECT key FROM pcache('rv') WHERE key GLOB 'user:*' ORDER BY key;
SELECT key FROM pcache('rv') WHERE key LIKE 'user:%' ORDER BY key;
SELECT key FROM pcache('rv') WHERE key GLOB 'us*' ORDER BY key;
SELECT key FROM pcache('rv') WHERE key GLOB 'us[*]*' ORDER BY key;
-- key IN (...): all the keys in one round trip (GETs, with PTTLs only when
-- ttl or expires_at is read). NULL matches nothing.
SELECT key, value, ttl IS NULL, ttl BETWEEN 59 AND 60, size FROM pcache('rv') WHERE key IN ('user:1', 'user:2', 'nope', NULL) ORDER BY key;
SELECT key, value FROM pcache('rv') WHERE key IN (SELECT 'job:' || 1 UNION SELECT 'User:3') ORDER BY key;
SELECT count(*) FROM pcache('rv') WHERE key IN ('x', 'y');
EXPLAIN QUERY PLAN SELECT value FROM pcache('rv') WHERE key IN ('user:1', 'user:2');
-- UPDATE and DELETE as in any table.
UPDATE pcache SET value = value || '!' WHERE cache = 'rv' AND key GLOB 'user:*';
UPDATE pcache SET ttl = 30 WHERE cache = 'rv' AND key = 'job:1';
SELECT key, value, ttl BETWEEN 29 AND 30 FROM pcache('rv') ORDER BY key;
-- An UPDATE of the value keeps the TTL, also under a default_ttl.
SELECT cache_open('rd', json_object('backend','redis','url',$redis,'prefix','t082k:','default_ttl',30));
SELECT cache_set('k', 'v', 1000, 'rd');
UPDATE pcache SET value = 'w' WHERE cache = 'rd' AND key = 'k';
SELECT value, ttl BETWEEN 999 AND 1000 FROM pcache('rd') WHERE key = 'k';
SELECT cache_clear('rd'), cache_close('rd');
DELETE FROM pcache WHERE cache = 'rv' AND key LIKE 'user:%';
SELECT key FROM pcache('rv') ORDER BY key;
-- A table of its own, defined by arguments.
CREATE VIRTUAL TABLE rt USING pcache(backend=redis, url='redis://127.0.0.1:1', prefix='t082t:');
SELECT count(*) FROM rt;
SELECT json_extract(cache_stats('rt'), '$.backend', '$.errors');
DROP TABLE rt;
SELECT cache_clear('rv'), cache_close('rv');
-- A Redis table declared in a database file: with trusted_schema OFF its
-- definition cannot open a connection.
.open rdef.db
CREATE VIRTUAL TABLE rdef USING pcache(backend=redis, url='redis://127.0.0.1:1', prefix='t082d:');
SELECT count(*) FROM rdef;
SELECT cache_close('rdef');
.open rdef.db
PRAGMA trusted_schema = OFF;
SELECT count(*) FROM rdef;
-- ... nor open the cache:
SELECT cache_get('k', 'rdef');

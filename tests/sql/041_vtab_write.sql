-- Writing through pcache: INSERT, INSERT OR REPLACE, UPDATE, DELETE.
INSERT INTO pcache(key, value, ttl) VALUES ('a', 'one', 60);
SELECT cache_get('a'), cache_ttl('a') BETWEEN 59 AND 60;
-- A plain INSERT on a live key is a constraint error; OR REPLACE overwrites.
INSERT INTO pcache(key, value) VALUES ('a', 'two');
SELECT cache_get('a');
INSERT OR REPLACE INTO pcache(key, value) VALUES ('a', 'two');
SELECT cache_get('a'), cache_ttl('a');
INSERT OR IGNORE INTO pcache(key, value) VALUES ('a', 'three');
SELECT cache_get('a');
-- A missing or NULL ttl means the cache's default_ttl; -1 never expires.
INSERT INTO pcache(key, value, ttl) VALUES ('b', 'bee', NULL), ('c', 'sea', -1);
SELECT key, ttl FROM pcache WHERE key IN ('b', 'c') ORDER BY key;
-- expires_at may be given instead of ttl.
INSERT INTO pcache(key, value, expires_at) VALUES ('d', 'dee', unixepoch() + 100);
SELECT ttl BETWEEN 98 AND 100 FROM pcache WHERE key = 'd';
-- Bad rows.
INSERT INTO pcache(key, value) VALUES (NULL, 'x');
INSERT INTO pcache(key, value, ttl) VALUES ('e', 'x', 0);
INSERT INTO pcache(key, value, ttl) VALUES ('e', 'x', 'abc');
INSERT INTO pcache(key, value, size) VALUES ('e', 'x', 5);
INSERT INTO pcache(key, value, expires_at) VALUES ('e', 'x', 1);
SELECT cache_has('e');
-- UPDATE the value (the TTL stays), the TTL (the value stays), or both.
UPDATE pcache SET value = 'ONE' WHERE key = 'a';
SELECT value, ttl FROM pcache WHERE key = 'a';
UPDATE pcache SET ttl = 30 WHERE key = 'c';
SELECT value, ttl BETWEEN 29 AND 30 FROM pcache WHERE key = 'c';
UPDATE pcache SET value = value || '!', ttl = -1 WHERE key GLOB '[bc]';
SELECT key, value, ttl FROM pcache WHERE key IN ('b', 'c') ORDER BY key;
UPDATE pcache SET size = 1 WHERE key = 'a';
UPDATE pcache SET ttl = 0 WHERE key = 'a';
-- Renaming a key moves the entry; the conflict rule applies to the new key.
UPDATE pcache SET key = 'a2' WHERE key = 'a';
SELECT cache_get('a') IS NULL, cache_get('a2');
UPDATE pcache SET key = 'b' WHERE key = 'a2';
SELECT cache_get('a2'), cache_get('b');
-- DELETE.
DELETE FROM pcache WHERE key = 'b';
SELECT cache_has('b');
DELETE FROM pcache WHERE key GLOB '[cd]';
SELECT key FROM pcache ORDER BY key;
-- Writes to a named cache through the hidden column.
SELECT cache_open('api');
INSERT INTO pcache(key, value, cache) VALUES ('x', 'in api', 'api');
SELECT cache_get('x', 'api'), cache_get('x') IS NULL;
UPDATE pcache SET value = 'changed' WHERE cache = 'api' AND key = 'x';
SELECT cache_get('x', 'api');
INSERT INTO pcache(key, value) VALUES ('x', 'in default');
DELETE FROM pcache WHERE cache = 'api' AND key = 'x';
SELECT cache_get('x', 'api') IS NULL, cache_get('x');
INSERT INTO pcache(key, value, cache) VALUES ('y', 1, 'nope');
-- Each row carries its cache (the hidden id): a DELETE spanning caches
-- removes every row from its own cache.
INSERT INTO pcache(key, value, cache) VALUES ('z', 1, 'api'), ('z', 1, 'default');
DELETE FROM pcache WHERE cache IN ('api', 'default') AND key = 'z';
SELECT cache_has('z', 'api'), cache_has('z');
-- UPDATE OR IGNORE onto a live key keeps both rows, as in any table.
INSERT INTO pcache(key, value) VALUES ('r1', 'one'), ('r2', 'two');
UPDATE OR IGNORE pcache SET key = 'r2' WHERE key = 'r1';
SELECT key, value FROM pcache WHERE key GLOB 'r[12]' ORDER BY key;
-- Moving a row to another cache.
UPDATE pcache SET cache = 'api' WHERE key = 'r1';
SELECT cache_get('r1') IS NULL, cache_get('r1', 'api');
UPDATE pcache SET cache = 'default', key = 'r3' WHERE cache = 'api' AND key = 'r1';
SELECT cache_get('r1', 'api') IS NULL, cache_get('r3');
-- expires_at = NULL: no expiry.
UPDATE pcache SET ttl = 30 WHERE key = 'r3';
UPDATE pcache SET expires_at = NULL WHERE key = 'r3';
SELECT ttl, expires_at FROM pcache WHERE key = 'r3';
-- An UPDATE never brings back an entry that expired since it was set.
SELECT cache_set('gone', 'old', 0.001);
.sleep 20
UPDATE pcache SET value = 'new' WHERE key = 'gone';
SELECT cache_has('gone');
-- The hidden id names the cache and the key.
SELECT hex(id) FROM pcache WHERE key = 'r3';

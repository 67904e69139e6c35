-- PocketCache quickstart: run with
--   sqlite3 :memory: '.load ./build/pocketcache' '.read examples/quickstart.sql'
-- (the README's first command does exactly this).

-- Set a value with a 60-second TTL, read it back.
SELECT cache_set('greeting', 'hello, cache', 60) AS stored;
SELECT cache_get('greeting') AS value, cache_ttl('greeting') <= 60 AS ttl_ok;

-- Memoize an expensive expression: computed once, then served from the cache.
SELECT coalesce(cache_get('answer'), cache_set('answer', 6 * 7, 300)) AS answer;
SELECT cache_get('answer') AS answer_again, typeof(cache_get('answer')) AS type;

-- Values keep their type, JSON included.
SELECT cache_set('user:1', json_object('name', 'Ada', 'langs', json_array('C', 'SQL'))) AS user;
SELECT json_extract(cache_get('user:1'), '$.langs[1]') AS second_lang;

-- A fixed-window counter: the TTL applies only when the key is created.
SELECT cache_incr('hits:today', 1, 86400), cache_incr('hits:today', 1, 86400) AS hits;

-- add is a lock primitive: only the first caller gets 1.
SELECT cache_add('lock:job', 'worker-1', 30) AS first, cache_add('lock:job', 'worker-2', 30) AS second;

-- The live entries, as a table.
SELECT key, value, size FROM pcache WHERE key GLOB 'user:*' OR key = 'greeting' ORDER BY key;

-- Write through the table; a plain INSERT on a live key is a constraint error.
INSERT INTO pcache(key, value, ttl) VALUES ('page:/home', '<html>home</html>', 120);
INSERT OR REPLACE INTO pcache(key, value) VALUES ('page:/home', '<html>new</html>');
SELECT value FROM pcache WHERE key = 'page:/home';

-- A named cache with its own configuration.
SELECT cache_open('api', json_object('max_entries', 1000, 'default_ttl', 300));
SELECT cache_set('GET /users', '[1,2,3]', NULL, 'api');
SELECT key, value FROM pcache('api');

-- Statistics.
SELECT cache, entries, hits, misses, sets FROM pcache_stats ORDER BY cache;

-- cache_open(name [, config]) and cache_close(name).
SELECT cache_open('api', json_object('max_entries', 100, 'default_ttl', 300));
-- The same configuration again is a no-op; another one is an error naming it.
SELECT cache_open('api', json_object('default_ttl', 300, 'max_entries', 100));
SELECT cache_open('api', json_object('max_entries', 200));
SELECT cache_open('api', '{"default_ttl":300,"max_entries":100,"serializer":"json"}');
-- Configuration errors name the key; nothing is opened.
SELECT cache_open('x', '{"nope":1}');
SELECT cache_open('x', '{"max_bytes":"64XB"}');
SELECT cache_open('x', '{"max_bytes":"1.5GB"}');
SELECT cache_open('x', '{"max_bytes":-1}');
SELECT cache_open('x', '{"max_entries":"ten"}');
SELECT cache_open('x', '{"default_ttl":0}');
SELECT cache_open('x', '{"default_ttl":"10abc"}');
SELECT cache_open('x', '{"serializer":"pickle"}');
SELECT cache_open('x', '{"eviction":"random"}');
SELECT cache_open('x', '{"backend":"nope"}');
SELECT cache_open('x', '{"max_entries":10,"max_entries":20}');
SELECT cache_open('x', '{"cache_dir":"/tmp"}');
SELECT cache_open('x', '{"url":"redis://127.0.0.1"}');
SELECT cache_open('x', '{"backend":"filesystem"}');
-- Opening needs no server (on_error=fallback serves misses until it is up).
SELECT cache_open('x', '{"backend":"redis","url":"redis://user:s3cret@127.0.0.1:6379/0"}'), cache_close('x');
SELECT cache_open('x', '{"backend":"redis","url":"redis://user:s3cret@127.0.0.1:99999/0"}');
SELECT cache_open('x', 'not json');
SELECT cache_open('x', '{"max_bytes":');
SELECT cache_open('x', '[1,2]');
SELECT cache_open('x', '{"dir_mode":"0799"}');
SELECT cache_open('x', '{"backend":"filesystem","cache_dir":"d","dir_mode":"0777"}');
SELECT cache_open('x', '{"max_bytes":"64KB\u0000junk"}');
-- An escaped backslash before u0000 is no NUL: a directory of that name.
SELECT cache_open('bs', '{"backend":"filesystem","cache_dir":"a\\u0000b"}'), json_extract(cache_stats('bs'), '$.backend'), cache_close('bs');
SELECT cache_open('x', '{"max_entries":9007199254740993}');
SELECT cache_open(NULL);
SELECT cache_open('');
SELECT cache_get('k', 'x');
-- Sizes accept 512, 64KB, 16MB, 1GB.
SELECT cache_open('sizes', '{"max_bytes":"16MB","max_key_bytes":"1KB","max_value_bytes":512}');
SELECT json_extract(cache_stats('sizes'), '$.backend');
-- cache_close; closing twice is an error; the name can then be reopened.
SELECT cache_close('api');
SELECT cache_close('api');
SELECT cache_get('k', 'api');
SELECT cache_open('api', '{"max_entries":5}');
SELECT cache_close(NULL);
-- default always exists: closing it succeeds even before its first use.
-- Closing default drops its entries; it comes back with the defaults.
SELECT cache_set('k', 'v');
SELECT cache_close('default');
SELECT cache_get('k') IS NULL;
-- default can be reconfigured: close it, then open it with a configuration.
SELECT cache_close('default'), cache_open('default', '{"max_entries":1}');
SELECT cache_set('a', 1), cache_set('b', 2), cache_get('a') IS NULL, cache_get('b');
-- eviction chooses the policy by name, in any case. Two entries; 'a' is
-- set, 'b' set, 'a' read, 'c' set, 'd' set. LRU keeps the two most recent
-- (c, d); SIEVE, whose hand stopped after 'b', passes the marked 'a' and
-- evicts 'c' (a, d); S3-FIFO lets 'a', read once only, go as any
-- newcomer (c, d).
SELECT cache_open('e_lru', '{"eviction":"LRU","max_entries":2}'), cache_open('e_sieve', '{"eviction":"sieve","max_entries":2}');
CREATE VIRTUAL TABLE e_s3 USING pcache(eviction=s3fifo, max_entries=2);
SELECT count(*) FROM e_s3;
SELECT c, cache_set('a', 1, NULL, c), cache_set('b', 2, NULL, c), cache_get('a', c), cache_set('c', 3, NULL, c), cache_set('d', 4, NULL, c) FROM (SELECT 'e_lru' AS c UNION ALL SELECT 'e_sieve' UNION ALL SELECT 'e_s3');
SELECT c, cache_has('a', c), cache_has('b', c), cache_has('c', c), cache_has('d', c) FROM (SELECT 'e_lru' AS c UNION ALL SELECT 'e_sieve' UNION ALL SELECT 'e_s3');
-- Then 'x' set and read twice, 'y' and 'z' set: LRU loses 'x'; S3-FIFO
-- keeps it (read twice: moved to its main queue), and so does SIEVE.
SELECT c, cache_clear(c), cache_set('x', 1, NULL, c), cache_get('x', c), cache_get('x', c), cache_set('y', 2, NULL, c), cache_set('z', 3, NULL, c) FROM (SELECT 'e_lru' AS c UNION ALL SELECT 'e_sieve' UNION ALL SELECT 'e_s3');
SELECT c, cache_has('x', c), cache_has('y', c), cache_has('z', c) FROM (SELECT 'e_lru' AS c UNION ALL SELECT 'e_sieve' UNION ALL SELECT 'e_s3');
-- The filesystem backend has lru only.
SELECT cache_open('e_fs', '{"backend":"filesystem","cache_dir":"e_fs","eviction":"s3fifo"}');

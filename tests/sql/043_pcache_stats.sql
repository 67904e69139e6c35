-- pcache_stats: one row per open cache.
SELECT * FROM pcache_stats;
SELECT cache_open('b'), cache_open('a', '{"max_entries":1}');
SELECT cache_set('k', 'value'), cache_get('k'), cache_get('none');
SELECT cache_set('1', 1, NULL, 'a'), cache_set('2', 2, NULL, 'a');
SELECT cache, backend, entries, bytes, hits, misses, hit_ratio, sets, deletes, evictions, expirations, errors FROM pcache_stats ORDER BY cache;
SELECT cache_close('b');
SELECT cache FROM pcache_stats ORDER BY cache;

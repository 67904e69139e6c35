-- cache_stats([cache]): a JSON object of counters.
SELECT cache_stats();
SELECT cache_set('a', 'xyz'), cache_get('a'), cache_get('a'), cache_get('b'), cache_delete('a');
SELECT json_extract(cache_stats(), '$.hits', '$.misses', '$.hit_ratio', '$.sets', '$.deletes', '$.entries', '$.bytes');
SELECT cache_set('a', 'xyz');
SELECT json_extract(cache_stats(), '$.entries', '$.bytes');
-- The result carries the JSON subtype: json functions take it as JSON.
SELECT json_type(cache_stats());
SELECT cache_open('api', '{"max_entries":2}');
SELECT cache_set('1', 1, NULL, 'api'), cache_set('2', 2, NULL, 'api'), cache_set('3', 3, NULL, 'api');
SELECT json_extract(cache_stats('api'), '$.cache', '$.backend', '$.entries', '$.evictions');
SELECT cache_stats('nope');

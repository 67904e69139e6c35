-- The filesystem backend: every function on a cache persisted in
-- <cache_dir>/pocketcache.db. The script runs in its own directory, under
-- umask 000 (see tests/CMakeLists.txt).
SELECT cache_open('disk', '{"backend":"filesystem","cache_dir":"store/a"}');
-- Exact round trips, as with memory.
SELECT cache_set('i', 9223372036854775807, NULL, 'disk'), cache_set('min', -9223372036854775808, NULL, 'disk'),
       cache_set('r', 1.5, NULL, 'disk'), cache_set('t', 'héllo', NULL, 'disk'), cache_set('b', x'00ff00', NULL, 'disk'),
       cache_set('et', '', NULL, 'disk'), cache_set('eb', x'', NULL, 'disk'), cache_set('n', NULL, NULL, 'disk');
SELECT cache_get('i', 'disk'), cache_get('min', 'disk'), cache_get('r', 'disk'),
       cache_get('t', 'disk'), cache_get('b', 'disk'), cache_get('et', 'disk'),
       cache_get('eb', 'disk'), cache_get('n', 'disk');
-- TEXT with a NUL inside keeps every byte (stored with the older trailer,
-- as text that cannot be a C string), TEXT without one too.
SELECT cache_set('tn', 'a' || char(0) || 'b', NULL, 'disk'), length(CAST(cache_get('tn', 'disk') AS BLOB)), hex(cache_get('tn', 'disk')), hex(cache_get('t', 'disk'));
SELECT typeof(cache_get('i', 'disk')), typeof(cache_get('r', 'disk')), typeof(cache_get('t', 'disk')),
       typeof(cache_get('b', 'disk')), typeof(cache_get('eb', 'disk')), typeof(cache_get('n', 'disk'));
SELECT cache_has('n', 'disk'), cache_has('nope', 'disk'), cache_get('nope', 'disk') IS NULL;
-- TTL: set, read back, touch, never.
SELECT cache_set('ttl', 'v', 60, 'disk'), cache_ttl('ttl', 'disk') BETWEEN 59 AND 60, cache_ttl('t', 'disk');
SELECT cache_touch('ttl', 120, 'disk'), cache_ttl('ttl', 'disk') BETWEEN 119 AND 120, cache_touch('nope', 5, 'disk');
-- add, incr, delete.
SELECT cache_add('t', 'other', NULL, 'disk'), cache_add('new', 'v', NULL, 'disk'), cache_get('t', 'disk');
SELECT cache_incr('hits', 1, NULL, 'disk'), cache_incr('hits', 41, NULL, 'disk'), cache_incr('hits', -2, NULL, 'disk');
SELECT cache_incr('t', 1, NULL, 'disk');
SELECT cache_incr('i', 1, NULL, 'disk');
SELECT cache_delete('new', 'disk'), cache_delete('new', 'disk'), cache_has('new', 'disk');
-- An expired entry is never returned.
SELECT cache_set('short', 'v', 0.05, 'disk');
.sleep 120
SELECT cache_get('short', 'disk') IS NULL, cache_has('short', 'disk'), cache_ttl('short', 'disk') IS NULL;
-- Bad input gets the same errors as with memory.
SELECT cache_set(NULL, 1, NULL, 'disk');
SELECT cache_set('k', 1, 0, 'disk');
SELECT cache_set('k', 1, 'abc', 'disk');
-- Statistics count what every process did (entries and bytes come from
-- the store itself).
SELECT json_extract(cache_stats('disk'), '$.backend', '$.entries', '$.errors');
SELECT cache_clear('disk'), json_extract(cache_stats('disk'), '$.entries', '$.bytes');
-- Entries survive closing the cache and reopening it.
SELECT cache_set('kept', 'yes', NULL, 'disk'), cache_close('disk');
SELECT cache_open('disk', '{"backend":"filesystem","cache_dir":"store/a"}'), cache_get('kept', 'disk');
-- max_entries: CLOCK eviction keeps the store within its bound.
SELECT cache_open('small', '{"backend":"filesystem","cache_dir":"store/small","max_entries":3}');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
SELECT count(cache_set('k' || i, i, NULL, 'small')) FROM n;
SELECT json_extract(cache_stats('small'), '$.entries', '$.evictions');
SELECT count(*) FROM pcache('small');
-- An entry read since the clock last passed survives its next lap: k8,
-- the oldest, would go first without the read.
SELECT cache_get('k8', 'small') IS NOT NULL;
WITH RECURSIVE n(i) AS (SELECT 11 UNION ALL SELECT i + 1 FROM n WHERE i < 12)
SELECT count(cache_set('k' || i, i, NULL, 'small')) FROM n;
SELECT key FROM pcache('small') ORDER BY key;
-- max_bytes counts keys and encoded values.
SELECT cache_open('tiny', '{"backend":"filesystem","cache_dir":"store/tiny","max_bytes":1000}');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
SELECT count(cache_set('k' || i, zeroblob(100), NULL, 'tiny')) FROM n;
SELECT json_extract(cache_stats('tiny'), '$.bytes') <= 1000, json_extract(cache_stats('tiny'), '$.entries');
SELECT cache_set('big', zeroblob(2000), NULL, 'tiny');
-- A memory tier in front of the store (local_max_bytes) serves repeated
-- reads from memory, and never a value another writer has replaced: cache
-- 'other' shares the directory with its own connections, as another
-- process would.
SELECT cache_open('tiered', '{"backend":"filesystem","cache_dir":"store/shared","local_max_bytes":"1MB"}');
SELECT cache_open('other', '{"backend":"filesystem","cache_dir":"store/shared"}');
SELECT cache_set('k', 'v1', NULL, 'tiered'), cache_get('k', 'tiered'), cache_get('k', 'tiered');
-- cache_stats shows the tier: the second read was served by it.
SELECT json_extract(cache_stats('tiered'), '$.hits', '$.tier.hits', '$.tier.entries');
SELECT cache_set('k', 'v2', NULL, 'other');
SELECT cache_get('k', 'tiered');
SELECT cache_delete('k', 'other'), cache_get('k', 'tiered') IS NULL;
SELECT cache_set('k', 'v3', 60, 'tiered'), cache_get('k', 'tiered'), cache_ttl('k', 'tiered') BETWEEN 59 AND 60;
SELECT cache_clear('other'), cache_get('k', 'tiered') IS NULL;
-- The memory backend has no tier to put in front of it.
SELECT cache_open('nomem', '{"local_max_bytes":"1MB"}');

-- cache_add(key, value [, ttl [, cache]]): 1 if stored because absent, else 0.
SELECT cache_add('lock', 'a', 30);
SELECT cache_add('lock', 'b', 30);
SELECT cache_get('lock');
-- An expired entry counts as absent.
SELECT cache_add('brief', 'x', 0.001);
.sleep 20
SELECT cache_add('brief', 'y'), cache_get('brief');
SELECT cache_add(NULL, 'v');
SELECT cache_add('k', 'v', 0);
SELECT cache_add('k', 'v', NULL, 'nope');
SELECT cache_has('k');

-- cache_has(key [, cache]): 1 or 0; NULL for a NULL key.
SELECT cache_has('k');
SELECT cache_set('k', NULL);
SELECT cache_has('k');
SELECT cache_has(NULL) IS NULL;
SELECT cache_has('k', 'nope');

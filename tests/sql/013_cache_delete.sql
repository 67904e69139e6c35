-- cache_delete(key [, cache]): 1 if the key existed, else 0.
SELECT cache_set('k', 'v');
SELECT cache_delete('k');
SELECT cache_delete('k');
SELECT cache_get('k') IS NULL;
SELECT cache_delete(NULL);
SELECT cache_delete('k', 'nope');
SELECT cache_open('other');
SELECT cache_set('k', 'in other', NULL, 'other'), cache_set('k', 'in default');
SELECT cache_delete('k', 'other'), cache_get('k'), cache_get('k', 'other') IS NULL;

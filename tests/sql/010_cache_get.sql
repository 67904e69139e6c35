-- cache_get(key [, cache]): the value, or NULL on a miss.
SELECT cache_get('missing') IS NULL;
SELECT cache_set('k', 'v');
SELECT cache_get('k');
-- A NULL key reads as NULL, like any SQL function of NULL.
SELECT cache_get(NULL) IS NULL;
-- Numbers are keys in their text form: 1, 1.0 and '1' differ, 1 and '1' do not.
SELECT cache_set(1, 'one');
SELECT cache_get('1'), cache_get(1), cache_get(1.0) IS NULL;
-- TEXT and BLOB keys are bytes: 'a' and x'61' are the same key.
SELECT cache_set(x'61', 'blob-key');
SELECT cache_get('a');
-- Keys are binary-safe: embedded NUL, CR/LF, any byte.
SELECT cache_set(x'00ff0d0a', 'binary');
SELECT cache_get(x'00ff0d0a'), cache_get(x'00ff') IS NULL;
-- Empty key is a key.
SELECT cache_set('', 'empty key'), cache_get('');
-- The trailing argument names a cache.
SELECT cache_get('k', 'nope');
SELECT cache_get('k', NULL);
SELECT cache_get('k', 'default');
SELECT cache_get();
SELECT cache_get('a', 'b', 'c');

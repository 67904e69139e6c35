-- cache_ttl(key [, cache]): remaining seconds (REAL), -1 if never, NULL if absent.
SELECT cache_ttl('absent') IS NULL;
SELECT cache_set('forever', 1, -1), cache_ttl('forever'), typeof(cache_ttl('forever'));
SELECT cache_set('minute', 1, 60), cache_ttl('minute') BETWEEN 59.9 AND 60, typeof(cache_ttl('minute'));
-- default_ttl applies when the TTL is NULL or absent.
SELECT cache_open('d', json_object('default_ttl', 5));
SELECT cache_set('k', 1, NULL, 'd'), cache_ttl('k', 'd') BETWEEN 4.9 AND 5;
SELECT cache_set('k2', 1, -1, 'd'), cache_ttl('k2', 'd');
SELECT cache_ttl(NULL) IS NULL;

-- cache_touch(key, ttl [, cache]): 1 if the key existed and its TTL was reset.
SELECT cache_set('k', 'v', 5);
SELECT cache_touch('k', 100), cache_ttl('k') BETWEEN 99.9 AND 100;
SELECT cache_touch('k', -1), cache_ttl('k');
SELECT cache_touch('absent', 10);
SELECT cache_touch('k', 0);
SELECT cache_touch('k', 'abc');
SELECT cache_touch(NULL, 10);
SELECT cache_get('k');
-- Sliding expiry: touching keeps a short-lived entry alive.
SELECT cache_set('s', 'session', 2);
.sleep 1200
SELECT cache_touch('s', 2);
.sleep 1200
SELECT cache_get('s');

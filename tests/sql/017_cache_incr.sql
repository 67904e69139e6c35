-- cache_incr(key [, delta [, ttl [, cache]]]): the new INTEGER value.
SELECT cache_incr('n');
SELECT cache_incr('n');
SELECT cache_incr('n', 10);
SELECT cache_incr('n', -20);
SELECT cache_get('n'), typeof(cache_get('n'));
-- The TTL applies only when the call creates the key (fixed window).
SELECT cache_incr('w', 1, 60), cache_ttl('w') BETWEEN 59.9 AND 60;
SELECT cache_touch('w', 1000), cache_incr('w', 1, 60), cache_ttl('w') > 999;
SELECT cache_incr('fresh', 5, -1), cache_ttl('fresh');
-- Errors.
SELECT cache_set('s', 'text');
SELECT cache_incr('s');
SELECT cache_set('f', 1.5);
SELECT cache_incr('f');
SELECT cache_incr('n', 'x');
SELECT cache_incr('n', 1.5);
SELECT cache_incr('n', 2.0);
SELECT cache_incr('n', NULL);
SELECT cache_incr(NULL);
SELECT cache_set('big', 9223372036854775807);
SELECT cache_incr('big');
SELECT cache_get('big');
SELECT cache_incr('n', 1, 0);

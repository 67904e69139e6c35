-- The Redis backend through every function, against the test's
-- redis-server ($redis is its URL). Each script of this server has its own
-- prefix.
SELECT cache_open('r', json_object('backend','redis','url',$redis,'prefix','t080:'));
SELECT cache_clear('r');
-- Round trips keep the type and every byte.
SELECT cache_set('i', 42, NULL, 'r'), cache_get('i', 'r');
SELECT cache_set('imin', -9223372036854775808, NULL, 'r'), cache_get('imin', 'r');
SELECT cache_set('imax', 9223372036854775807, NULL, 'r'), cache_get('imax', 'r');
SELECT cache_set('big', 9007199254740993, NULL, 'r'), cache_get('big', 'r');
SELECT cache_set('r', 1.5, NULL, 'r'), cache_get('r', 'r'), cache_set('nz', -0.0, NULL, 'r'), atan2(0, cache_get('nz', 'r')) > 3 AS sign_kept;
SELECT cache_set('t', 'héllo', NULL, 'r'), cache_get('t', 'r');
SELECT cache_set('e', '', NULL, 'r'), typeof(cache_get('e', 'r')), cache_set('eb', x'', NULL, 'r'), typeof(cache_get('eb', 'r'));
SELECT cache_set('nul', 'a' || char(0) || 'b', NULL, 'r'), length(CAST(cache_get('nul', 'r') AS BLOB));
SELECT cache_set('b', x'00ff0d0a', NULL, 'r'), cache_get('b', 'r');
SELECT cache_set('n', NULL, NULL, 'r'), cache_get('n', 'r'), cache_has('n', 'r'), cache_has('nothing', 'r');
SELECT cache_get('nothing', 'r');
-- Binary keys: NUL, CR LF and spaces are part of the key, never protocol.
SELECT cache_set(x'6100620d0a20', 'bin', NULL, 'r'), cache_get(x'6100620d0a20', 'r'), cache_get('a', 'r');
-- TTL: PX on SET, PTTL for cache_ttl.
SELECT cache_set('ttl', 1, 60, 'r'), cache_ttl('ttl', 'r') BETWEEN 59 AND 60, cache_ttl('i', 'r'), cache_ttl('nothing', 'r');
SELECT cache_set('ttl', 2, NULL, 'r'), cache_ttl('ttl', 'r');
-- add: SET NX.
SELECT cache_add('i', 7, NULL, 'r'), cache_add('new', 7, NULL, 'r'), cache_get('i', 'r'), cache_get('new', 'r');
-- delete.
SELECT cache_delete('new', 'r'), cache_delete('new', 'r'), cache_has('new', 'r');
-- touch: a TTL for a key with none or one; -1 removes it; absent is 0.
SELECT cache_touch('i', 100, 'r'), cache_ttl('i', 'r') BETWEEN 99 AND 100;
SELECT cache_touch('i', -1, 'r'), cache_ttl('i', 'r'), cache_touch('nothing', 10, 'r');
-- incr: atomic on the server; the TTL only when the key is created.
SELECT cache_incr('c', 1, 60, 'r'), cache_incr('c', 41, 1, 'r'), cache_ttl('c', 'r') BETWEEN 59 AND 60;
SELECT cache_incr('c', -50, NULL, 'r'), cache_incr('c2', 1, NULL, 'r'), cache_ttl('c2', 'r');
SELECT cache_incr('imax', 1, NULL, 'r');
SELECT cache_incr('imin', -1, NULL, 'r');
SELECT cache_incr('imax', -1, NULL, 'r'), cache_incr('imin', 1, NULL, 'r');
SELECT cache_set('cmax', 9223372036854775806, NULL, 'r'), cache_incr('cmax', 1, NULL, 'r'), cache_incr('cmin', -9223372036854775808, NULL, 'r');
SELECT cache_incr('t', 1, NULL, 'r');
SELECT cache_incr('r', 1, NULL, 'r');
-- The json serializer stores decimal text: INCRBY itself.
SELECT cache_open('rj', json_object('backend','redis','url',$redis,'prefix','t080j:','serializer','json'));
SELECT cache_incr('c', 9007199254740993, 60, 'rj'), cache_incr('c', 1, NULL, 'rj'), cache_ttl('c', 'rj') BETWEEN 59 AND 60;
SELECT cache_set('s', 'text', NULL, 'rj'), cache_incr('s', 1, NULL, 'rj');
SELECT cache_incr('c', 9223372036854775807, NULL, 'rj');
-- Bytes that are no encoding (another program's) are a miss, counted as an error.
.shell redis-cli -u "$(cat "$PC_REDIS_URL_FILE")" SET t080:junk 'not an encoding' && redis-cli -u "$(cat "$PC_REDIS_URL_FILE")" RPUSH t080:list x
SELECT cache_get('junk', 'r'), cache_get('list', 'r'), cache_has('list', 'r');
SELECT json_extract(cache_stats('r'), '$.errors');
-- clear removes only keys under the prefix (SCAN + UNLINK).
SELECT cache_clear('rj') >= 2, cache_get('i', 'r');
SELECT cache_clear('r') > 10, cache_get('i', 'r'), cache_clear('r');
-- A prefix with glob characters matches only itself.
SELECT cache_open('g', json_object('backend','redis','url',$redis,'prefix','t080[*]?:'));
SELECT cache_open('g2', json_object('backend','redis','url',$redis,'prefix','t080x*x?:'));
SELECT cache_set('k', 1, NULL, 'g'), cache_set('k', 2, NULL, 'g2');
SELECT cache_clear('g'), cache_get('k', 'g'), cache_get('k', 'g2'), cache_clear('g2');
SELECT json_extract(cache_stats('r'), '$.backend', '$.sets', '$.deletes');
SELECT cache_close('r'), cache_close('rj'), cache_close('g'), cache_close('g2');
-- A memory tier in front (local_max_bytes): reads and writes as without it;
-- it serves once its invalidation connection is up (stress.redis_tier).
SELECT cache_open('rt', json_object('backend','redis','url',$redis,'prefix','t080t:','local_max_bytes',1000000));
SELECT cache_set('k', 'v', 60, 'rt'), cache_get('k', 'rt'), cache_get('k', 'rt'), cache_delete('k', 'rt'), cache_get('k', 'rt');
SELECT json_extract(cache_stats('rt'), '$.tier.backend', '$.hits', '$.misses');
SELECT cache_close('rt');

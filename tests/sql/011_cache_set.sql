-- cache_set(key, value [, ttl [, cache]]) returns value itself.
SELECT cache_set('k', 'v'), cache_set('k', 42), cache_get('k');
-- Exact round trips with the native serializer.
SELECT cache_set('t', ''), cache_get('t'), typeof(cache_get('t'));
SELECT cache_set('b', x''), quote(cache_get('b')), typeof(cache_get('b'));
SELECT cache_set('tn', 'a' || char(0) || 'b'), length(cast(cache_get('tn') AS BLOB));
SELECT cache_set('bn', x'610062'), hex(cache_get('bn'));
SELECT cache_set('imin', -9223372036854775808), cache_get('imin');
SELECT cache_set('imax', 9223372036854775807), cache_get('imax');
SELECT cache_set('i53', 9007199254740993), cache_get('i53');
-- The sign of -0.0 shows through atan2 (SQLite prints both zeros as 0.0).
SELECT cache_set('negz', -0.0), atan2(0, cache_get('negz')) > 3 AS sign_kept, typeof(cache_get('negz'));
SELECT cache_set('r', 1.0), cache_get('r'), typeof(cache_get('r'));
SELECT cache_set('inf', 1e999), cache_get('inf');
-- JSON made by json functions keeps its JSON subtype; plain text does not.
SELECT cache_set('js', json_array(1, 2)), cache_set('txt', '[1,2]');
SELECT json_quote(cache_get('js')), json_quote(cache_get('txt'));
-- NULL is a storable value, told apart from a miss by cache_has.
SELECT cache_set('n', NULL) IS NULL, cache_get('n') IS NULL, cache_has('n'), cache_has('never-set');
-- Memoization: coalesce evaluates its second argument only on a miss.
SELECT coalesce(cache_get('memo'), cache_set('memo', 'computed'));
SELECT coalesce(cache_get('memo'), cache_set('memo', 'recomputed'));
-- TTL rules.
SELECT cache_set('ttl', 'v', 10), cache_ttl('ttl') BETWEEN 9.9 AND 10;
SELECT cache_set('ttl', 'v', 0.5), cache_ttl('ttl') BETWEEN 0.4 AND 0.5;
SELECT cache_set('ttl', 'v', '2.5'), cache_ttl('ttl') BETWEEN 2.4 AND 2.5;
SELECT cache_set('ttl', 'v', -1), cache_ttl('ttl');
SELECT cache_set('ttl', 'v', NULL), cache_ttl('ttl');
SELECT cache_set('bad', 'v', 0);
SELECT cache_set('bad', 'v', -5);
SELECT cache_set('bad', 'v', 'abc');
SELECT cache_set('bad', 'v', '10abc');
SELECT cache_set('bad', 'v', 1e300);
SELECT cache_set('bad', 'v', x'01');
SELECT cache_set('bad', 'v', 9007199254741);
-- Nothing was stored by the failed calls.
SELECT cache_has('bad');
-- NULL key is an error for writers.
SELECT cache_set(NULL, 'v');
-- Limits: max_key_bytes and max_value_bytes are errors, not truncation.
SELECT cache_open('small', '{"max_key_bytes":8,"max_value_bytes":16}');
SELECT cache_set('123456789', 'v', NULL, 'small');
SELECT cache_set('k', '12345678901234567', NULL, 'small');
SELECT cache_set('k', zeroblob(17), NULL, 'small');
SELECT cache_set('12345678', '1234567890123456', NULL, 'small'), cache_get('12345678', 'small');
SELECT cache_set('k', 'v', NULL, 'nope');
-- Expiry through SQL (the engine's own tests move a clock instead).
SELECT cache_set('short', 'v', 0.001);
.sleep 20
SELECT cache_get('short') IS NULL, cache_has('short'), cache_ttl('short') IS NULL;

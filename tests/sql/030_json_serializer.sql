-- serializer=json: values stored as JSON text that any language reads.
SELECT cache_open('j', '{"serializer":"json"}');
SELECT cache_set('s', 'hello "world"' || char(10), NULL, 'j'), cache_get('s', 'j');
SELECT cache_set('e', '', NULL, 'j'), quote(cache_get('e', 'j'));
SELECT cache_set('nul', 'a' || char(0) || 'b', NULL, 'j'), length(cast(cache_get('nul', 'j') AS BLOB));
SELECT cache_set('i53', 9007199254740993, NULL, 'j'), cache_get('i53', 'j');
SELECT cache_set('imin', -9223372036854775808, NULL, 'j'), cache_get('imin', 'j');
SELECT cache_set('imax', 9223372036854775807, NULL, 'j'), cache_get('imax', 'j');
SELECT cache_set('r', 1.0, NULL, 'j'), cache_get('r', 'j'), typeof(cache_get('r', 'j'));
SELECT cache_set('nz', -0.0, NULL, 'j'), atan2(0, cache_get('nz', 'j')) > 3 AS sign_kept;
SELECT cache_set('pi', 3.141592653589793, NULL, 'j'), cache_get('pi', 'j') = 3.141592653589793;
SELECT cache_set('n', NULL, NULL, 'j') IS NULL, cache_get('n', 'j') IS NULL, cache_has('n', 'j');
-- A value made by json functions is stored as that JSON, and comes back as JSON.
SELECT cache_set('o', json_object('a', 1, 'b', json_array(1, 2)), NULL, 'j');
SELECT cache_get('o', 'j'), json_type(cache_get('o', 'j')), json_extract(cache_get('o', 'j'), '$.b[1]');
-- json_quote shows the subtype: JSON passes through, a string is quoted.
-- A JSON-looking string that is not from json() stays a string.
SELECT cache_set('str', '{"a":1}', NULL, 'j'), json_quote(cache_get('str', 'j')), json_quote(cache_get('o', 'j'));
-- A BLOB cannot be stored as JSON.
SELECT cache_set('b', x'0102', NULL, 'j');
SELECT cache_has('b', 'j');
-- The stored bytes, as the table shows their size.
SELECT key, size FROM pcache('j') WHERE key IN ('s', 'i53', 'o') ORDER BY key;
SELECT cache_incr('counter', 1, NULL, 'j'), cache_incr('counter', 2, NULL, 'j');

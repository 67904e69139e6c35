-- Redis down. Nothing listens on 127.0.0.1:1, so every connect is refused
-- at once. on_error=fallback (the default): no statement fails; reads
-- miss, writes are lost, and each is counted as an error.
SELECT cache_open('d', '{"backend":"redis","url":"redis://127.0.0.1:1","prefix":"t081:"}');
SELECT cache_set('k', 1, NULL, 'd'), cache_get('k', 'd'), cache_has('k', 'd'), cache_ttl('k', 'd');
SELECT cache_add('k', 1, NULL, 'd'), cache_delete('k', 'd'), cache_touch('k', 10, 'd'), cache_incr('k', 1, NULL, 'd'), cache_clear('d');
SELECT count(*) FROM pcache('d');
INSERT INTO pcache(key, value, cache) VALUES ('k', 1, 'd');
SELECT json_extract(cache_stats('d'), '$.hits', '$.misses', '$.sets', '$.errors') ;
-- on_error=raise: the SQL error says what failed, never where with what secret.
SELECT cache_open('p', '{"backend":"redis","url":"redis://app:hunter2@127.0.0.1:1/3","on_error":"raise"}');
SELECT cache_get('k', 'p');
SELECT cache_set('k', 1, NULL, 'p');
SELECT cache_incr('k', 1, NULL, 'p');
SELECT * FROM pcache('p');
SELECT instr(cache_stats('p'), 'hunter2'), json_extract(cache_stats('p'), '$.errors') > 0;
SELECT instr(group_concat(s.cache || s.backend), 'hunter2') FROM pcache_stats AS s;
-- A password the server does not take: the error names AUTH, not the password.
SELECT cache_open('a', json_object('backend','redis','url',replace($redis, '//', '//app:hunter2@'),'on_error','raise'));
SELECT cache_get('k', 'a');
SELECT cache_open('a2', json_object('backend','redis','url',replace($redis, '//', '//app:hunter2@')));
SELECT cache_get('k', 'a2'), json_extract(cache_stats('a2'), '$.errors');
SELECT cache_close('d'), cache_close('p'), cache_close('a'), cache_close('a2');

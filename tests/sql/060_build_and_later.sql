-- pcache_build(): what this build has, as JSON (library versions vary by
-- machine, so only their presence is checked here).
SELECT json_extract(pcache_build(), '$.version', '$.backends', '$.serializers');
SELECT json_type(pcache_build(), '$.sqlite'), json_type(pcache_build(), '$.cjson'), json_type(pcache_build(), '$.hiredis');
SELECT pcache_version() = json_extract(pcache_build(), '$.version');
-- What this version does not have says so, instead of "no such function".
CREATE VIRTUAL TABLE v USING pcache_view(sql='SELECT 1', ttl=60);

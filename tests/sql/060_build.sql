-- pcache_build(): what this build has, as JSON (library versions vary by
-- machine, so only their presence is checked here).
SELECT json_extract(pcache_build(), '$.version', '$.backends', '$.serializers');
SELECT json_type(pcache_build(), '$.sqlite'), json_type(pcache_build(), '$.cjson'), json_type(pcache_build(), '$.hiredis');
SELECT pcache_version() = json_extract(pcache_build(), '$.version');

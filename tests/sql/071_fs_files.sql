-- The filesystem backend's files: modes, missing directories, symbolic
-- links, damaged and foreign files, newer store formats. The script runs
-- under umask 000, so every mode below is set by PocketCache itself.
SELECT cache_open('a', '{"backend":"filesystem","cache_dir":"deep/er/cache"}');
SELECT cache_set('k', 'v', NULL, 'a');
.shell stat -c '%a %F %n' deep deep/er deep/er/cache deep/er/cache/pocketcache.db deep/er/cache/pocketcache.db-wal deep/er/cache/pocketcache.db-shm
SELECT cache_open('m', '{"backend":"filesystem","cache_dir":"modes","dir_mode":"0750","file_mode":"0640"}');
SELECT cache_set('k', 'v', NULL, 'm');
.shell stat -c '%a %F %n' modes modes/pocketcache.db modes/pocketcache.db-wal modes/pocketcache.db-shm
-- create_dir=false on a missing directory names it.
SELECT cache_open('nodir', '{"backend":"filesystem","cache_dir":"missing","create_dir":false}');
.shell touch plainfile
SELECT cache_open('notdir', '{"backend":"filesystem","cache_dir":"plainfile"}');
-- A store that is a symbolic link is refused.
.shell mkdir -m 700 linked && ln -s ../deep/er/cache/pocketcache.db linked/pocketcache.db
SELECT cache_open('linked', '{"backend":"filesystem","cache_dir":"linked"}');
-- A damaged or foreign file in place of the store is a clear error naming
-- the file, never a crash.
.shell mkdir -m 700 junk && head -c 8192 /dev/zero | tr '\0' 'x' > junk/pocketcache.db
SELECT cache_open('junk', '{"backend":"filesystem","cache_dir":"junk"}');
.shell mkdir -m 700 foreign
ATTACH 'foreign/pocketcache.db' AS f;
CREATE TABLE f.notes(x);
DETACH f;
SELECT cache_open('foreign', '{"backend":"filesystem","cache_dir":"foreign"}');
-- A store written by a newer version is refused, not guessed at.
SELECT cache_open('newer', '{"backend":"filesystem","cache_dir":"newer"}'), cache_close('newer');
ATTACH 'newer/pocketcache.db' AS n;
PRAGMA n.user_version = 2;
DETACH n;
SELECT cache_open('newer', '{"backend":"filesystem","cache_dir":"newer"}');
-- Recovery is removing the file: the next open starts an empty cache.
.shell rm junk/pocketcache.db
SELECT cache_open('junk', '{"backend":"filesystem","cache_dir":"junk"}'), cache_get('k', 'junk') IS NULL;
-- Bytes in the store that cannot be decoded (a foreign writer, damage) are
-- a miss counted in errors, never a crash.
-- TEXT stored NUL-terminated (version 2) that has a NUL inside is one of
-- those; without one it reads back as written, old (version 1) TEXT too.
SELECT cache_open('odd', '{"backend":"filesystem","cache_dir":"odd"}'), cache_set('k', 'fine', NULL, 'odd'), cache_set('k2', 'fine', NULL, 'odd'), cache_set('k3', 'fine', NULL, 'odd'), cache_set('k4', 'fine', NULL, 'odd'), cache_set('k5', 'fine', NULL, 'odd');
ATTACH 'odd/pocketcache.db' AS o;
SELECT hex(value) FROM o.entry WHERE key = CAST('k' AS BLOB);
UPDATE o.entry SET value = x'50' WHERE key = CAST('k' AS BLOB);
UPDATE o.entry SET value = x'0102035011' WHERE key = CAST('k2' AS BLOB);
UPDATE o.entry SET value = x'6100620023' WHERE key = CAST('k3' AS BLOB);
UPDATE o.entry SET value = x'61620023' WHERE key = CAST('k4' AS BLOB);
UPDATE o.entry SET value = x'61625013' WHERE key = CAST('k5' AS BLOB);
DETACH o;
SELECT cache_get('k', 'odd') IS NULL, cache_get('k2', 'odd') IS NULL, cache_has('k', 'odd'), cache_get('k3', 'odd') IS NULL, cache_get('k4', 'odd'), cache_get('k5', 'odd');
SELECT json_extract(cache_stats('odd'), '$.hits', '$.misses', '$.errors');
-- The same through a memory tier, which keeps only what it checked.
SELECT cache_open('oddt', '{"backend":"filesystem","cache_dir":"oddt","local_max_bytes":"1MB"}'), cache_set('k3', 'fine', NULL, 'oddt'), cache_set('k4', 'fine', NULL, 'oddt');
ATTACH 'oddt/pocketcache.db' AS o;
UPDATE o.entry SET value = x'6100620023' WHERE key = CAST('k3' AS BLOB);
UPDATE o.entry SET value = x'61620023' WHERE key = CAST('k4' AS BLOB);
DETACH o;
SELECT cache_get('k3', 'oddt') IS NULL, cache_get('k3', 'oddt') IS NULL, cache_get('k4', 'oddt'), cache_get('k4', 'oddt');
SELECT json_extract(cache_stats('oddt'), '$.errors', '$.tier.entries');

-- Every function and module the extension registers, with its flags.
-- cache_* functions are DIRECTONLY (flag 0x80000 in pragma_function_list).
SELECT name, narg, (flags & 0x80000) != 0 AS directonly, (flags & 0x800) != 0 AS deterministic
  FROM pragma_function_list WHERE name LIKE 'cache\_%' ESCAPE '\' OR name LIKE 'pcache%'
  ORDER BY name, narg;
SELECT name FROM pragma_module_list WHERE name LIKE 'pcache%' ORDER BY name;
SELECT pcache_version();
-- Loading a second time into the same connection is harmless.
.load
SELECT cache_set('k', 1), cache_get('k');

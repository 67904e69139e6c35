-- cache_clear([cache]): the number of live entries removed.
SELECT cache_clear();
SELECT cache_set('a', 1), cache_set('b', 2), cache_set('c', 3, 0.001);
.sleep 20
SELECT cache_clear();
SELECT cache_get('a') IS NULL, count(*) FROM pcache;
SELECT cache_open('x');
SELECT cache_set('k', 1, NULL, 'x'), cache_set('k', 1);
SELECT cache_clear('x'), cache_get('k');
SELECT cache_clear('nope');

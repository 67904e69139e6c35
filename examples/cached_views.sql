-- PocketCache cached views: run with
--   sqlite3 shop.db '.load ./build/pocketcache' '.read examples/cached_views.sql'
-- (a database file: the view definitions are kept in it).

CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, user_id INTEGER,
                                  total REAL, placed TEXT);
DELETE FROM orders;
INSERT INTO orders(user_id, total, placed) VALUES
  (1, 20.0, '2026-11-01'), (1, 35.5, '2026-11-03'), (2, 12.0, '2026-11-02'),
  (3, 99.9, '2026-11-05'), (1, 5.25, '2026-11-07');

-- One statement's result, cached as JSON for 60 seconds.
SELECT cache_query('SELECT user_id, count(*) AS orders, sum(total) AS spent
                    FROM orders GROUP BY user_id ORDER BY user_id', 60) AS report;

-- The JSON reads back as rows with SQLite's json functions.
SELECT value ->> 'user_id' AS user_id, value ->> 'spent' AS spent
FROM json_each(cache_query('SELECT user_id, count(*) AS orders, sum(total) AS spent
                            FROM orders GROUP BY user_id ORDER BY user_id', 60));

-- A cached view with a parameter: ?1 becomes an argument, so the view is
-- called like a function. invalidate=auto drops the cached rows when
-- `orders` is written, by this connection or any other.
DROP TABLE IF EXISTS user_orders;
CREATE VIRTUAL TABLE user_orders USING pcache_view(
  sql='SELECT id, total, placed FROM orders WHERE user_id = ?1 ORDER BY id',
  ttl=300, invalidate=auto);

SELECT * FROM user_orders(1);                 -- computed, then stored
SELECT * FROM user_orders(1);                 -- served from the cache
SELECT cache_stats() ->> 'hits' AS hits;

-- Joined like any table: the argument comes from the other side.
SELECT o.user_id, v.id, v.total
FROM (SELECT DISTINCT user_id FROM orders) o, user_orders(o.user_id) v
ORDER BY o.user_id, v.id;

-- A write is seen by the next read.
INSERT INTO orders(user_id, total, placed) VALUES (1, 60.0, '2026-11-09');
SELECT * FROM user_orders(1);

-- Named parameters become columns of their name.
DROP TABLE IF EXISTS orders_between;
CREATE VIRTUAL TABLE orders_between USING pcache_view(
  sql='SELECT id, user_id, total FROM orders
       WHERE placed BETWEEN :since AND :until ORDER BY placed', ttl=60);
SELECT * FROM orders_between('2026-11-02', '2026-11-05');
SELECT count(*) AS n FROM orders_between WHERE since = '2026-11-01' AND until = '2026-11-30';

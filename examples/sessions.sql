-- Session data with a sliding expiry: run with
--   sqlite3 :memory: '.load ./build/pocketcache' '.read examples/sessions.sql'
--
-- A session lives 30 minutes after its last request: each request reads it
-- and resets its TTL with cache_touch; an idle session expires on its own.

SELECT cache_open('sessions', '{"default_ttl": 1800, "max_bytes": "16MB"}');

-- Log in: store the session under a random id.
CREATE TEMP TABLE login AS SELECT lower(hex(randomblob(16))) AS sid;
SELECT cache_set('session:' || sid,
                 json_object('user', 'ada', 'cart', json_array()),
                 NULL, 'sessions') IS NOT NULL AS stored
FROM login;

-- A request: read the session, and slide its expiry (1 if it was live).
SELECT cache_get('session:' || sid, 'sessions') ->> 'user' AS user,
       cache_touch('session:' || sid, 1800, 'sessions') AS touched
FROM login;

-- Update it: add to the cart, keeping the expiry rule.
SELECT cache_set('session:' || sid,
                 json_insert(cache_get('session:' || sid, 'sessions'),
                             '$.cart[#]', 'book'),
                 NULL, 'sessions') ->> 'cart' AS cart
FROM login;

-- The remaining time is about 30 minutes again.
SELECT cache_ttl('session:' || sid, 'sessions') > 1790 AS fresh FROM login;

-- Log out: the session goes; a later touch finds nothing.
SELECT cache_delete('session:' || sid, 'sessions') AS deleted,
       cache_touch('session:' || sid, 1800, 'sessions') AS touched_after
FROM login;

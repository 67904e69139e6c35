-- A fixed-window rate limiter with cache_incr: run with
--   sqlite3 :memory: '.load ./build/pocketcache' '.read examples/rate_limit.sql'
--
-- Each client gets a counter per window, named by the window's start
-- (here 60 s). cache_incr creates it with a TTL of one window and counts
-- atomically (across processes too, on a filesystem or Redis cache); the
-- TTL is set only when the key is made, so the window does not slide.
-- A request is allowed while the counter is within the limit (here 5).

-- The current window's start, taken once for this script (a server takes
-- it per request).
CREATE TEMP TABLE window AS
  SELECT CAST(unixepoch() / 60 AS INTEGER) * 60 AS start;

-- One request of client 'alice': the new count, and the verdict.
SELECT cache_incr('rate:alice:' || (SELECT start FROM window), 1, 60) <= 5
       AS allowed;

-- Seven more requests in the same window: requests 6 to 8 are refused.
WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 8)
SELECT i AS request,
       cache_incr('rate:alice:' || (SELECT start FROM window), 1, 60) <= 5
         AS allowed
FROM n;

-- Another client has a window of its own.
SELECT cache_incr('rate:bob:' || (SELECT start FROM window), 1, 60) <= 5
       AS bob_allowed;

-- The counter expires with its window (at most 60 s from its first use).
SELECT key GLOB 'rate:alice:*' AS is_alice, value AS requests,
       ttl > 0 AND ttl <= 60 AS expires_with_window
FROM pcache WHERE key GLOB 'rate:*' ORDER BY key;

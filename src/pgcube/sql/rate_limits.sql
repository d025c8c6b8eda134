-- The shared rate-limit counters in pgcube.rate_limits (ADR 0008), for pgcube.db.rate_limits.

-- name: try_add
-- base: the count the row has in the newer of its window and ours, with our already-admitted
-- pending hits ($3) added when they belong to it. The request's cost ($4) is added only while
-- base + cost <= limit ($5); last_cost tells which happened.
INSERT INTO pgcube.rate_limits AS r (bucket, window_start, hits, last_cost)
VALUES ($1::text, to_timestamp($2::float8), $3::int + CASE WHEN $3::int + $4::int <= $5::int THEN $4::int ELSE 0 END,
        CASE WHEN $3::int + $4::int <= $5::int THEN $4::int ELSE 0 END)
ON CONFLICT (bucket) DO UPDATE SET
    window_start = GREATEST(r.window_start, excluded.window_start),
    (hits, last_cost) = (
        SELECT base + admitted, admitted
        FROM (SELECT CASE WHEN r.window_start > excluded.window_start THEN r.hits
                          WHEN r.window_start = excluded.window_start THEN r.hits + $3
                          ELSE $3 END AS base) AS b,
             LATERAL (SELECT CASE WHEN base + $4 <= $5 THEN $4 ELSE 0 END AS admitted) AS a
    )
RETURNING hits, last_cost;

-- name: add
-- Rows in bucket order: two processes flushing the same buckets lock them in the same order
-- and never deadlock.
INSERT INTO pgcube.rate_limits AS r (bucket, window_start, hits, last_cost)
SELECT b, to_timestamp(w), h, 0 FROM unnest($1::text[], $2::float8[], $3::int[]) AS t(b, w, h) ORDER BY b
ON CONFLICT (bucket) DO UPDATE SET
    window_start = GREATEST(r.window_start, excluded.window_start),
    hits = CASE WHEN r.window_start > excluded.window_start THEN r.hits
                WHEN r.window_start = excluded.window_start THEN r.hits + excluded.hits
                ELSE excluded.hits END
RETURNING bucket, hits;

-- name: purge
DELETE FROM pgcube.rate_limits WHERE window_start < to_timestamp($1);

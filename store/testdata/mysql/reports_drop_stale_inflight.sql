DELETE FROM inflight_batch WHERE started_at < ? LIMIT 10000

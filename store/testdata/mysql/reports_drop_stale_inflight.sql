DELETE FROM inflight WHERE started_at < ? LIMIT 10000

SELECT batch, provider, ids, started_at FROM inflight_batch WHERE first_id <= :1 AND last_id >= :2

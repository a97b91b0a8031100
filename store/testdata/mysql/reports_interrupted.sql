SELECT batch, provider, ids, started_at FROM inflight_batch WHERE first_id <= ? AND last_id >= ?

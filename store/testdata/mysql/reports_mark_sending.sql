INSERT INTO inflight_batch (batch, first_id, last_id, provider, ids, started_at) VALUES (?, ?, ?, ?, ?, ?)

INSERT INTO inflight_batch (batch, first_id, last_id, provider, ids, started_at) VALUES (:1, :2, :3, :4, :5, :6)

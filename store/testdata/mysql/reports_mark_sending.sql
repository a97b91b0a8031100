INSERT INTO inflight (id, provider, started_at) VALUES (?,?,?),(?,?,?) ON DUPLICATE KEY UPDATE provider = VALUES(provider), started_at = VALUES(started_at)

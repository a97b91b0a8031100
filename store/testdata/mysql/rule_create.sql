INSERT INTO rules (app_id, name, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)

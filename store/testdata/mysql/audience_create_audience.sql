INSERT INTO audiences (app_id, name, kind, expr, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)

INSERT INTO apps (name, created_at) VALUES (?, ?)

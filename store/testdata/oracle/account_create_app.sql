INSERT INTO apps (name, created_at) VALUES (:1, :2) RETURNING id INTO :3

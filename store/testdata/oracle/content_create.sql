INSERT INTO templates (app_id, name, version, created_at, updated_at) VALUES (:1, :2, 1, :3, :4) RETURNING id INTO :5

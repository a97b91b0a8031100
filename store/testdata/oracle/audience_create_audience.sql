INSERT INTO audiences (app_id, name, kind, expr, created_by, created_at) VALUES (:1, :2, :3, :4, :5, :6) RETURNING id INTO :7

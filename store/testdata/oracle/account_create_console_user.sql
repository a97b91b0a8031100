INSERT INTO console_users (email, password_hash, role, all_apps, created_at) VALUES (:1, :2, :3, :4, :5) RETURNING id INTO :6

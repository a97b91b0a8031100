INSERT INTO console_users (email, password_hash, role, all_apps, created_at) VALUES (?, ?, ?, ?, ?)

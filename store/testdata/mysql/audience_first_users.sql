SELECT u.id FROM users u WHERE u.app_id = ? ORDER BY u.id LIMIT ?

SELECT u.id FROM users u WHERE u.app_id = ? AND u.id > ? ORDER BY u.id LIMIT ?

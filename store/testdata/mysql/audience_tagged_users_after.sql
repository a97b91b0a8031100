SELECT t.user_id FROM user_tags t WHERE t.app_id = ? AND t.tag = ? AND t.user_id > ? ORDER BY t.user_id LIMIT ?

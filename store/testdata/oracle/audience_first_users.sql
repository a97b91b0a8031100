SELECT u.id FROM users u WHERE u.app_id = :1 ORDER BY u.id FETCH FIRST :2 ROWS ONLY

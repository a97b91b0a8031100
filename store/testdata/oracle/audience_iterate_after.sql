SELECT u.id FROM users u WHERE u.app_id = :1 AND u.id > :2 ORDER BY u.id FETCH FIRST :3 ROWS ONLY

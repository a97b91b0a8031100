SELECT t.user_id FROM user_tags t WHERE t.app_id = :1 AND t.tag = :2 AND t.user_id > :3 ORDER BY t.user_id FETCH FIRST :4 ROWS ONLY

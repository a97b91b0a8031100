DELETE FROM history WHERE (app_id, user_id) IN (SELECT app_id, user_id FROM (SELECT app_id, user_id FROM history WHERE created_at < :1 ORDER BY created_at) WHERE ROWNUM <= :2)

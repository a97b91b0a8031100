SELECT id FROM delivery WHERE app_id = :1 AND ((created_at > :2) OR (created_at = :3 AND id > :4))

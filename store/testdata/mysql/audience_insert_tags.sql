INSERT IGNORE INTO user_tags (app_id, tag, user_id) VALUES (?,?,?),(?,?,?)

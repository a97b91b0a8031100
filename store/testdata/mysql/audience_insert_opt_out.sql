INSERT IGNORE INTO user_optouts (app_id, user_id, channel, class, created_at) VALUES (?,?,?,?,?)

INSERT IGNORE INTO user_identities (app_id, user_id, identity_id, created_at) VALUES (?,?,?,?),(?,?,?,?)

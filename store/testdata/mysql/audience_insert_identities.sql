INSERT IGNORE INTO identities (app_id, channel, address, created_at) VALUES (?,?,?,?),(?,?,?,?)

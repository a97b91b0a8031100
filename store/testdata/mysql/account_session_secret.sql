INSERT IGNORE INTO settings (name, value) VALUES (?,?)

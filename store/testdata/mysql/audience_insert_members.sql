INSERT INTO audience_members (audience_id, user_id) VALUES (?,?),(?,?)

INSERT INTO audience_members (audience_id, user_id) SELECT :1 AS audience_id, :2 AS user_id FROM dual UNION ALL SELECT :3 AS audience_id, :4 AS user_id FROM dual

DELETE FROM user_identities WHERE app_id = :1 AND user_id = :2 AND identity_id IN
			(SELECT id FROM identities WHERE app_id = :3 AND channel = :4 AND address = :5)

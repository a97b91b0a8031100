DELETE FROM user_identities WHERE app_id = ? AND user_id = ? AND identity_id IN
			(SELECT id FROM identities WHERE app_id = ? AND channel = ? AND address = ?)

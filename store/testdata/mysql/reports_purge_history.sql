DELETE FROM history WHERE created_at < ? ORDER BY created_at LIMIT ?

UPDATE tasks SET status = IF(status = 'RUNNING', 'COMPLETED', status), shards_done = LEAST(shards_done + 1, shards_total), updated_at = ? WHERE id = ?

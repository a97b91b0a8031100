SELECT id, status FROM delivery_20261127 WHERE id BETWEEN ? AND ?

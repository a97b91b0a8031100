SELECT COUNT(fallback_at) FROM delivery_20261127 WHERE id > ? AND id < ?

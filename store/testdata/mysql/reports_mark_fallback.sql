UPDATE delivery_20261127 SET fallback_at = ? WHERE id = ? AND fallback_at IS NULL AND delivered_at IS NULL

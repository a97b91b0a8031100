SELECT id, address FROM delivery_20261127 WHERE id BETWEEN ? AND ? AND address IN (?,?)

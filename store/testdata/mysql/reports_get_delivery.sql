SELECT id, app_id, task_id, template_id, user_id, channel, address, provider, vendor_id, status, reason, cost_units, cost, created_at, updated_at FROM delivery_20261127 WHERE id = ?

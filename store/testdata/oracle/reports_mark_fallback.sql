UPDATE (SELECT * FROM delivery WHERE day = DATE '2026-11-27') SET fallback_at = :1 WHERE id = :2 AND fallback_at IS NULL AND delivered_at IS NULL

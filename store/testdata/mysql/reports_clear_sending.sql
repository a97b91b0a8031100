DELETE FROM inflight_batch WHERE batch IN (?,?)

DELETE FROM inflight_batch WHERE batch IN (:1,:2)

DELETE FROM inflight WHERE id IN (:1,:2)

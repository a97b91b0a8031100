SELECT id, provider FROM inflight WHERE id IN (:1,:2)

DELETE FROM inflight WHERE id IN (?,?)

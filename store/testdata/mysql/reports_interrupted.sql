SELECT id, provider FROM inflight WHERE id IN (?,?)

DELETE FROM rollup_daily WHERE period >= ? AND period < ?

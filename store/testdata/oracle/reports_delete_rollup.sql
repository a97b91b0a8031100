DELETE FROM rollup_daily WHERE period >= :1 AND period < :2

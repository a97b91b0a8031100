SELECT app_id, period, task_id, template_id, channel, status, messages, sent, delivered, displayed, clicked, cost_units, cost FROM rollup_daily WHERE period >= ? AND period < ? FOR UPDATE

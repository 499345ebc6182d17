"""Dispatch: which routes take an alert (:mod:`.routes`), and for each route when to notify what
(:mod:`.dispatcher`: group, wait, repeat, dedup), as Alertmanager's ``dispatch/``."""

"""Looking back at alerting: rule replay over stored history (:mod:`.replay`), the alert-quality review
(:mod:`.alert_quality`) and threshold tuning (:mod:`.tuning`)."""

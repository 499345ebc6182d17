"""Looking back at alerting: rule replay over stored history (:mod:`.replay`), the alert-quality review
(:mod:`.alert_quality`), threshold tuning (:mod:`.tuning`), and the review rendered as JSON, text and HTML
(:mod:`.render`, its page in ``templates/``)."""

"""The response to alerts: episodes (:mod:`.episodes`, one firing period of one rule on one model) and the
incidents people work on (:mod:`.incidents`)."""

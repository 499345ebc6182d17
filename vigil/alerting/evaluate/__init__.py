"""Evaluation: read each rule's metric through one metric source (:mod:`.source`, served by one cache,
:mod:`.cache`), let the rule judge it, and step the alert states (:mod:`.round`)."""

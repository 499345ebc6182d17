"""Drift reports drawn for people, from the JSON-ready dict of ``vigil.comparison.Report.to_dict()``:
``html`` (one self-contained page, its template in ``templates/``) and ``text`` (the terminal summary)."""

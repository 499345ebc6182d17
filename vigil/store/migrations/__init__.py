"""The schema of each SQL store, as migrations applied in order (``sqlite``, ``postgres``)."""

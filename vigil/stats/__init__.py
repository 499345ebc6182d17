"""Mergeable summaries of columns and tables."""

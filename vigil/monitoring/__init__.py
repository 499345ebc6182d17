"""Live monitoring: windows, the aggregator, queries over time."""

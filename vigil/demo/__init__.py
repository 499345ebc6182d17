"""The demos: a live system with injected trouble (`vigil demo`)."""

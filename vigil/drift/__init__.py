"""Drift methods, one per file; ``vigil.drift.methods.METHODS`` is their registry.

``METHOD_NAMES`` lists the registry's names without importing numpy or scipy, for the command line's
``--method`` choices (a test keeps the two equal).
"""

METHOD_NAMES: tuple[str, ...] = ("ks", "cvm", "wasserstein", "chi2", "psi", "jensen_shannon", "hellinger")
"""The names of ``METHODS``, in its order."""

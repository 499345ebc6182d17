"""Human-readable renderings of Vigil reports (HTML)."""

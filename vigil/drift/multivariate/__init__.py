"""Drift of the features' joint distribution, which per-column tests cannot see (a correlation that changes
while every marginal stays put).

* ``encode``: :class:`Encoder`, mixed columns as one standardised matrix fitted on the reference;
* ``reconstruction``: PCA reconstruction error against a band from the reference's own chunks;
* ``domain``: a classifier's cross-validated AUC at telling current from reference, with its p-value;
* ``result``: :class:`MultivariateOutcome`, what each method returns.
"""

from vigil.drift.multivariate.domain import domain_classifier_drift
from vigil.drift.multivariate.encode import Encoder
from vigil.drift.multivariate.reconstruction import Reconstruction, reconstruction_drift
from vigil.drift.multivariate.result import MultivariateOutcome

__all__ = [
    "Encoder",
    "MultivariateOutcome",
    "Reconstruction",
    "domain_classifier_drift",
    "reconstruction_drift",
]

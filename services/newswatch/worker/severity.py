"""Severity of an alert from the model's confidence and from corroboration by independent outlets (pure).

    severity_for(0.95, outlets=1, policy=AlertPolicy())   # "urgent": confident, one outlet so far
    severity_for(0.95, outlets=3, policy=AlertPolicy())   # "flash": confident and corroborated
    severity_for(0.75, outlets=2, policy=AlertPolicy())   # "urgent": less sure, but two outlets agree
    severity_for(0.60, outlets=1, policy=AlertPolicy())   # "routine"

``probability`` is the highest article probability seen for the event and ``outlets`` the number of distinct
outlets reporting it; both only grow, so an alert's severity never drops between versions.
"""

from __future__ import annotations

from newswatch.contracts import Severity
from newswatch.worker.settings import AlertPolicy

__all__ = ["severity_for"]


def severity_for(probability: float, *, outlets: int, policy: AlertPolicy) -> Severity:
    """Return ``flash``, ``urgent`` or ``routine`` (table in docs/worker.md)."""
    if probability >= policy.flash_probability and outlets >= policy.flash_min_outlets:
        return "flash"
    if probability >= policy.urgent_probability:
        return "urgent"
    if probability >= policy.urgent_corroborated_probability and outlets >= policy.urgent_min_outlets:
        return "urgent"
    return "routine"

"""newswatch: event-driven news monitoring for military withdrawals, coups and peacekeeping changes.

Data flows one way: feed -> Article -> Classification -> Alert (see docs/architecture.md).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

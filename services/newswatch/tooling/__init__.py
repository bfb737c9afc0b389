"""Tooling apart from serving: labelled corpora built from public news archives.

No service imports this package.
"""

__all__: list[str] = []

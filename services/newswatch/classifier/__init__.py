"""newswatch.classifier."""

__all__: list[str] = []

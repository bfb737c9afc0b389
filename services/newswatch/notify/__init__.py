"""newswatch.notify."""

__all__: list[str] = []

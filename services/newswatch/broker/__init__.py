"""newswatch.broker."""

__all__: list[str] = []

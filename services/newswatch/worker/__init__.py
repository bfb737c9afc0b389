"""newswatch.worker."""

__all__: list[str] = []

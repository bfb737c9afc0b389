"""newswatch.poller."""

__all__: list[str] = []

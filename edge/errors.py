"""The edge's exception tree."""


class EdgeError(Exception):
    """Something at the edge failed in a way its caller must handle."""


class ConfigError(EdgeError):
    """The configuration file or environment is invalid."""


class ListenError(EdgeError):
    """An endpoint of the edge could not listen on its address (in use, not allowed)."""

    def __init__(self, name: str, address: tuple[str, int], cause: OSError) -> None:
        host, port = address
        super().__init__(f"{name}: cannot listen on {host}:{port}: {cause.strerror or cause}")


class OutboxError(EdgeError):
    """The outbox could not store an event (disk full, database damaged)."""


class OutboxFull(OutboxError):
    """The outbox holds as many events as it is allowed to."""


class DriverError(EdgeError):
    """A gate's relay board or I/O module did not answer, or answered nonsense."""

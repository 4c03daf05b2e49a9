"""The hub's exception tree; `hub.api.errors` maps it to HTTP in one place."""


class HubError(Exception):
    """A request or message the hub cannot serve."""


class BadCursor(HubError):
    """A paging cursor the API did not issue."""

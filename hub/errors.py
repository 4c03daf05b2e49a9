"""The hub's exception tree; `hub.api.errors` maps it to HTTP in one place."""


class HubError(Exception):
    """A request or message the hub cannot serve."""


class BadCursor(HubError):
    """A paging cursor the API did not issue."""


class NotFound(HubError):
    """No such record, or none this user may see (the two are not told apart)."""


class Conflict(HubError):
    """The request contradicts what the registry holds (a duplicate card, plate or id)."""


class Forbidden(HubError):
    """The user's role or compound does not allow this."""


class Unauthenticated(HubError):
    """No valid credentials: a missing, expired or unknown token, or a wrong password."""


class InvalidInput(HubError):
    """A request that is well-formed but makes no sense (a plate in no valid format)."""


class Unavailable(HubError):
    """Something the request needs is out of reach (the broker, an edge)."""

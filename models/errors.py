"""The exception tree of the shared contracts."""


class ContractError(Exception):
    """A payload does not satisfy one of Anju's contracts."""

    reason = "invalid"


class MalformedPayload(ContractError):
    """Not JSON, or not shaped like an envelope."""

    reason = "malformed"


class PayloadTooLarge(ContractError):
    """Larger than any honest event could be."""

    reason = "too_large"


class UnknownVersion(ContractError):
    """A schema version this side has never seen."""

    reason = "unknown_version"


class BadSignature(ContractError):
    """The signature does not verify with the sender's public key."""

    reason = "bad_signature"


class InvalidBody(ContractError):
    """The signed body does not validate against its schema."""

    reason = "invalid_body"

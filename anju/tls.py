"""TLS for Anju's own HTTP servers (the hub's API, the edge's push endpoints) and for their
clients. A compound usually has its own small PKI: servers present a certificate signed by
the compound's CA, and clients are given that CA's file; without one, a client trusts the
system's roots."""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsError(ValueError):
    """A certificate, key or CA file that cannot be used."""


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server's context (TLS 1.2 or newer) from its certificate chain and private key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(
            f"cannot use the certificate {cert_file} with the key {key_file}: {exc}"
        ) from exc
    return context


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client's context that verifies the server against `ca_file`, or the system's
    roots when there is none."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot use the CA file {ca_file}: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context

"""Re-encryption of the secrets the hub keeps at rest, after a key rotation."""

from __future__ import annotations

from sqlmodel import Session, select

from hub.core.security import SecretBox
from hub.tables import Compound


def rotate_secrets(*, session: Session, box: SecretBox) -> int:
    """Re-encrypt under the current (first) key every secret sealed with an older one."""
    count = 0
    for compound in session.exec(select(Compound)):
        if not box.is_current(compound.pin_pepper):
            compound.pin_pepper = box.encrypt(box.decrypt(compound.pin_pepper))
            session.add(compound)
            count += 1
        if compound.issuer_key is not None and not box.is_current(compound.issuer_key):
            compound.issuer_key = box.encrypt(box.decrypt(compound.issuer_key))
            session.add(compound)
            count += 1
    session.commit()
    return count

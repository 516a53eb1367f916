"""Who counts as a guest, and which mail domains are consumer providers: facts every layer shares."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["guest_mask", "public_domains"]


def guest_mask(users: pd.DataFrame) -> pd.Series:
    """Guests and externally-invited members: ``userType`` Guest, ``Invitation``, or an ``#EXT#`` UPN."""
    guest = users["userType"].str.lower().eq("guest").fillna(False)
    invited = users["creationType"].str.lower().eq("invitation").fillna(False)
    ext = users["userPrincipalName"].str.contains("#EXT#", case=False, regex=False).fillna(False)
    return (guest | invited | ext).astype(bool)


def public_domains() -> set[str]:
    """The bundled list of consumer mail providers (``audit/data/public_domains.txt``)."""
    text = resources.files("audit").joinpath("data/public_domains.txt").read_text("utf-8")
    return {ln.strip().lower() for ln in text.splitlines() if ln.strip() and ln[0] != "#"}

"""Who is calling: what a valid bearer token resolves to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompanyGrant:
    """One company a client is tied to, with what the export needs to know of it."""

    id: int
    ref_id: int
    subscription: str


@dataclass(frozen=True)
class Principal:
    client_pk: int
    client_id: str
    scopes: frozenset[str]
    companies: tuple[CompanyGrant, ...]

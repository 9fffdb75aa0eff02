"""Bearer tokens and what they may do (SPEC "Tokens and scopes"): operator tokens
(API_TOKEN) read and retry, read-only tokens (API_READ_TOKEN) only read. Each variable
holds a comma-separated list, so a token is rotated by adding the new one, moving the
clients over, then removing the old one."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    # Read and retry.
    OPERATE = "operate"


@dataclass(frozen=True)
class Tokens:
    operator: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.operator or self.read_only)

    def scope_of(self, presented: str) -> Scope | None:
        """The scope a presented token grants, or None. Every configured token is compared,
        in constant time, whatever matched before: how long it takes says nothing about
        which token, or how much of one, was right."""
        given = presented.encode()
        operator = read = False
        for token in self.operator:
            operator |= hmac.compare_digest(given, token.encode())
        for token in self.read_only:
            read |= hmac.compare_digest(given, token.encode())
        if operator:
            return Scope.OPERATE
        return Scope.READ if read else None

    def allows(self, presented: str, needed: Scope) -> bool | None:
        """True when the token grants `needed`, False when it is valid but grants less
        (answer 403), None when it is no token of ours (answer 401)."""
        scope = self.scope_of(presented)
        if scope is None:
            return None
        return scope == Scope.OPERATE or needed == Scope.READ

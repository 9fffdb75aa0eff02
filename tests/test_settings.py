"""Configuration read once at start-up: lists for rotation, and secrets that never show."""

from __future__ import annotations

from services.core.auth import Scope, Tokens
from services.core.settings import load_settings


def test_token_lists_and_their_scopes():
    settings = load_settings({"API_TOKEN": " op-1 , op-2,", "API_READ_TOKEN": "read-1"})
    assert settings.api_tokens == ("op-1", "op-2") and settings.api_read_tokens == ("read-1",)
    tokens = settings.tokens
    assert tokens.scope_of("op-2") == Scope.OPERATE and tokens.scope_of("read-1") == Scope.READ
    assert tokens.scope_of("op-3") is None and tokens.scope_of("") is None
    assert tokens.allows("read-1", Scope.OPERATE) is False and tokens.allows("read-1", Scope.READ) is True
    assert tokens.allows("op-1", Scope.OPERATE) is True and tokens.allows("nope", Scope.READ) is None


def test_a_token_in_both_lists_operates():
    assert Tokens(operator=("t",), read_only=("t",)).scope_of("t") == Scope.OPERATE


def test_no_token_configured_is_said():
    assert not load_settings({}).tokens.configured
    assert load_settings({"API_READ_TOKEN": "r"}).tokens.configured


def test_the_repr_masks_every_secret():
    secrets = {
        "MP_ACCESS_TOKEN": "APP_USR-secret-access",
        "MP_WEBHOOK_SECRET": "whsec-one,whsec-two",
        "GHL_API_TOKEN": "pit-secret-ghl",
        "API_TOKEN": "op-secret",
        "API_READ_TOKEN": "read-secret",
    }
    settings = load_settings({**secrets, "GHL_LOCATION_ID": "loc-visible"})
    shown = repr(settings) + str(settings)
    for value in ("APP_USR-secret-access", "whsec-one", "whsec-two", "pit-secret-ghl", "op-secret", "read-secret"):
        assert value not in shown
    assert "loc-visible" in shown and "mp_access_token='***'" in shown
    # Unset secrets say so instead of a mask.
    assert "ghl_api_token=None" in repr(load_settings({}))

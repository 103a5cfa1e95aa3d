"""Microsoft Entra (AAD) token endpoint of the Partner Center emulator.

Serves ``POST /{tenant}/oauth2/token`` (v1, ``resource``) and ``/{tenant}/oauth2/v2.0/token``
(v2, ``scope``) with the ``refresh_token`` and ``client_credentials`` grants, issues access
tokens that expire, rotates refresh tokens, and answers bad credentials with AAD's error shape.
Tests shorten token lifetimes, revoke tokens or register static tokens through
``POST /_sandbox/tokens``.

The real referrals API needs App+User tokens (api-facts §2.4 [MA]); the emulator also accepts
client_credentials so a service-principal setup can be exercised, which the real service may not.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import datetime, timezone
from typing import Any

#: the credentials ``tests/conftest.py`` configures for the sandbox connection
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-pc-client-secret-0001"
SANDBOX_REFRESH_TOKEN = "sandbox-pc-refresh-token-0001"
RESOURCE = "https://api.partner.microsoft.com"
DEFAULT_TTL_SECONDS = 3600


def aad_error(error: str, code: int, description: str) -> dict[str, Any]:
    """AAD's OAuth error body."""
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }


class TokenIssuer:
    """Clients, refresh tokens and live access tokens of the emulated tenant."""

    def __init__(self) -> None:
        self.clients: dict[str, str] = {SANDBOX_CLIENT_ID: SANDBOX_CLIENT_SECRET}
        self.refresh_tokens: set[str] = {SANDBOX_REFRESH_TOKEN}
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.static_tokens: set[str] = set()
        self.ttl_seconds: float = DEFAULT_TTL_SECONDS
        self.issued = 0

    def reset_settings(self) -> None:
        """Back to the default lifetime, no static tokens (issued tokens stay valid)."""
        self.ttl_seconds = DEFAULT_TTL_SECONDS
        self.static_tokens.clear()

    # ------------------------------------------------------------------ admin
    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/tokens``: ``ttl_seconds``, ``revoke_all``, ``static``, ``clients``."""
        if "ttl_seconds" in body:
            ttl = body["ttl_seconds"]
            if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
                raise ValueError("ttl_seconds must be a positive number")
            self.ttl_seconds = float(ttl)
        if body.get("revoke_all"):
            self.access_tokens.clear()
            self.static_tokens.clear()
        if "static" in body:
            static = body["static"]
            if not isinstance(static, list) or not all(isinstance(t, str) and t for t in static):
                raise ValueError("static must be a list of token strings")
            self.static_tokens.update(static)
        if "clients" in body:
            clients = body["clients"]
            if not isinstance(clients, dict) or not all(isinstance(v, str) for v in clients.values()):
                raise ValueError("clients must map client ids to secrets")
            self.clients.update(clients)
        if "refresh_tokens" in body:
            tokens = body["refresh_tokens"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ValueError("refresh_tokens must be a list of strings")
            self.refresh_tokens.update(tokens)
        return self.settings()

    def settings(self) -> dict[str, Any]:
        now = time.time()
        return {
            "ttl_seconds": self.ttl_seconds,
            "issued": self.issued,
            "live": sum(1 for expiry in self.access_tokens.values() if expiry > now),
            "static": len(self.static_tokens),
        }

    # ------------------------------------------------------------------ OAuth
    def is_valid(self, token: str) -> bool:
        if token in self.static_tokens:
            return True
        expiry = self.access_tokens.get(token)
        return expiry is not None and expiry > time.time()

    def token(self, form: dict[str, str], v2: bool) -> tuple[int, dict[str, Any]]:
        """Answer a token request: ``(status, body)``."""
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "client_credentials"):
            return 400, aad_error(
                "unsupported_grant_type", 70003, f"The app requested an unsupported grant type {grant!r}."
            )
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return 400, aad_error(
                "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found."
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self.clients[client_id]):
            return 401, aad_error("invalid_client", 7000215, "Invalid client secret provided.")
        if v2:
            scope = form.get("scope", "")
            if f"{RESOURCE}/.default" not in scope.split() and f"{RESOURCE}/user_impersonation" not in scope.split():
                return 400, aad_error("invalid_scope", 70011, f"The provided scope {scope!r} is not valid.")
        elif form.get("resource", RESOURCE).rstrip("/") != RESOURCE:
            return 400, aad_error(
                "invalid_resource", 500011, f"The resource principal {form.get('resource')!r} was not found."
            )
        if grant == "refresh_token" and form.get("refresh_token") not in self.refresh_tokens:
            return 400, aad_error(
                "invalid_grant", 70000, "Provided grant is invalid or malformed (refresh token unknown)."
            )
        access_token = "pcsbx-at-" + secrets.token_urlsafe(24)
        expires_at = time.time() + self.ttl_seconds
        self.access_tokens[access_token] = expires_at
        self.issued += 1
        # prune long-dead tokens so a long demo does not grow without bound
        for stale in [t for t, e in self.access_tokens.items() if e < time.time() - 3600]:
            del self.access_tokens[stale]
        lifetime = max(1, int(self.ttl_seconds))
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_token,
            # v1 writes the numbers as strings, v2 as integers
            "expires_in": lifetime if v2 else str(lifetime),
            "ext_expires_in": lifetime if v2 else str(lifetime),
        }
        if not v2:
            body["expires_on"] = str(int(expires_at))
            body["resource"] = RESOURCE
        else:
            body["scope"] = f"{RESOURCE}/.default"
        if grant == "refresh_token":
            rotated = "pcsbx-rt-" + secrets.token_urlsafe(24)
            # the old refresh token stays valid (AAD does not make them single-use)
            self.refresh_tokens.add(rotated)
            body["refresh_token"] = rotated
        return 200, body

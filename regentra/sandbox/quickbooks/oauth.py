"""Intuit's OAuth 2.0 / OpenID Connect server, as `intuit-oauth`'s `AuthClient` uses it.

Discovery document (the fields `AuthClient.__init__` reads), the authorize page (pick a
company, Connect or Cancel), the token endpoint (authorization_code and refresh_token grants,
HTTP Basic client authentication), revoke, userinfo and the JWKS for RS256 `id_token`s.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from regentra.sandbox.quickbooks.state import Sandbox, token

ACCESS_TTL = 3600  # seconds (OAuth FAQ: "Access tokens are valid for 3600 seconds")
REFRESH_IDLE_TTL = 100 * 86400  # lapses after 100 days unused
REFRESH_HARD_TTL = 5 * 365 * 86400  # five-year maximum (Intuit, 2025-11-12)
CODE_TTL = 300  # docs silent in what we read: the stricter five minutes
ACCOUNTING = "com.intuit.quickbooks.accounting"
OPENID = {"openid", "profile", "email", "phone", "address"}
KNOWN_SCOPES = {ACCOUNTING, "com.intuit.quickbooks.payment", *OPENID}
KID = "regentra-sandbox-1"


def discovery(request: Request) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "issuer": base + "/op/v1",
            "authorization_endpoint": base + "/connect/oauth2",
            "token_endpoint": base + "/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": base + "/v1/openid_connect/userinfo",
            "revocation_endpoint": base + "/oauth2/v1/tokens/revoke",
            "jwks_uri": base + "/oauth2/v1/openid_connect/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": sorted(KNOWN_SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
    )


def _key(sandbox: Sandbox) -> rsa.RSAPrivateKey:
    with sandbox.lock:
        if sandbox.signing_key_pem is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            sandbox.signing_key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            sandbox.save()
        loaded = serialization.load_pem_private_key(sandbox.signing_key_pem.encode(), None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        return loaded


def _oauth_error(error: str, status: int = 400, description: str = "") -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><title>Intuit sandbox: error</title><h1>Something went wrong</h1>"
        f"<p>{html.escape(message)}</p>",
        status_code=status,
    )


def _check_authorize(sandbox: Sandbox, params: dict[str, str]) -> str | None:
    app = sandbox.apps.get(params.get("client_id", ""))
    if app is None:
        return "Invalid client_id."
    if params.get("redirect_uri") not in app["redirect_uris"]:
        return "The redirect_uri is not one of this app's registered redirect URIs."
    if params.get("response_type") != "code":
        return "response_type must be code."
    scopes = params.get("scope", "").split()
    if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
        return "Invalid scope."
    return None


def _form(raw: bytes) -> dict[str, str] | None:
    """An application/x-www-form-urlencoded body; None when it is not UTF-8."""
    try:
        return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    except UnicodeDecodeError:
        return None


def routes(sandbox: Sandbox) -> list[Route]:
    def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        problem = _check_authorize(sandbox, params)
        if problem:
            return _error_page(problem)
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(params.get(k, ""))}">'
            for k in ("client_id", "redirect_uri", "scope", "state", "response_type")
        )
        with sandbox.lock:
            companies = list(sandbox.companies.values())
        options = "".join(
            f'<li><label><input type="radio" name="realmId" value="{c.realm_id}"'
            f"{' checked' if i == 0 else ''}> {html.escape(c.name)} "
            f"({c.home_currency}, realm {c.realm_id})</label></li>"
            for i, c in enumerate(companies)
        )
        return HTMLResponse(
            "<!doctype html><title>Connect to QuickBooks (sandbox)</title>"
            "<h1>Connect your QuickBooks company</h1>"
            f'<form method="post" action="/connect/oauth2">{hidden}<ul>{options}</ul>'
            '<button name="decision" value="connect">Connect</button> '
            '<button name="decision" value="cancel">Cancel</button></form>'
        )

    async def decide(request: Request) -> Response:
        form = _form(await request.body())
        if form is None:
            return _error_page("invalid_request: the form is not UTF-8 text.")
        problem = _check_authorize(sandbox, form)
        if problem:
            return _error_page(problem)
        redirect = form["redirect_uri"]
        sep = "&" if "?" in redirect else "?"
        state = {"state": form["state"]} if form.get("state") else {}
        if form.get("decision") != "connect":
            query = urlencode({"error": "access_denied", **state})
            return RedirectResponse(f"{redirect}{sep}{query}", status_code=302)
        realm_id = form.get("realmId", "")
        with sandbox.lock:
            if realm_id not in sandbox.companies:
                return _error_page("Choose one of the companies.")
            code = "AB" + token(24)
            sandbox.codes[code] = {
                "client_id": form["client_id"],
                "redirect_uri": redirect,
                "realm_id": realm_id,
                "scope": form["scope"],
                "expires_at": sandbox.now() + CODE_TTL,
                "used": False,
            }
            sandbox.save()
        query = urlencode({"code": code, **state, "realmId": realm_id})
        return RedirectResponse(f"{redirect}{sep}{query}", status_code=302)

    def _client(request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        app = sandbox.apps.get(client_id)
        if app is None or app["client_secret"] != secret:
            return None
        return client_id

    def _issue(request: Request, grant_id: str, *, with_id_token: bool) -> dict[str, Any]:
        grant = sandbox.grants[grant_id]
        now = sandbox.now()
        access, refresh = token(48), "AB11" + token(36)
        sandbox.access_tokens[access] = {"grant": grant_id, "expires_at": now + ACCESS_TTL}
        refresh_ttl = int(min(REFRESH_IDLE_TTL, grant["created"] + REFRESH_HARD_TTL - now))
        sandbox.refresh_tokens[refresh] = {
            "grant": grant_id,
            "expires_at": now + refresh_ttl,
            "superseded": False,
        }
        body: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": ACCESS_TTL,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": refresh_ttl,
        }
        if with_id_token and OPENID & set(grant["scope"].split()):
            base = str(request.base_url).rstrip("/")
            claims = {
                "iss": base + "/op/v1",
                "aud": [grant["client_id"]],
                "sub": grant["sub"],
                "realmid": grant["realm_id"],
                "auth_time": int(grant["created"]),
                "iat": int(now),
                "exp": int(now) + ACCESS_TTL,
            }
            body["id_token"] = jwt.encode(
                claims, _key(sandbox), algorithm="RS256", headers={"kid": KID}
            )
        return body

    async def token_endpoint(request: Request) -> Response:
        if sandbox.faults.get("oauth_latency_ms"):  # Intuit's sign-in service is slow
            await asyncio.sleep(sandbox.faults["oauth_latency_ms"] / 1000)
        client_id = _client(request)
        if client_id is None:
            return _oauth_error("invalid_client", 401)
        form = _form(await request.body())
        if form is None:
            return _oauth_error("invalid_request", 400)
        grant_type = form.get("grant_type")
        with sandbox.lock:
            now = sandbox.now()
            if grant_type == "authorization_code":
                code = sandbox.codes.get(form.get("code", ""))
                if (
                    code is None
                    or code["used"]
                    or code["expires_at"] < now
                    or code["client_id"] != client_id
                    or code["redirect_uri"] != form.get("redirect_uri")
                ):
                    return _oauth_error("invalid_grant")
                code["used"] = True
                grant_id = token(12)
                sandbox.grants[grant_id] = {
                    "client_id": client_id,
                    "realm_id": code["realm_id"],
                    "scope": code["scope"],
                    "created": now,
                    "revoked": False,
                    "sub": token(12),
                }
                body = _issue(request, grant_id, with_id_token=True)
            elif grant_type == "refresh_token":
                held = sandbox.refresh_tokens.get(form.get("refresh_token", ""))
                grant = sandbox.grants.get(held["grant"]) if held else None
                if (
                    held is None
                    or grant is None
                    or held["superseded"]
                    or held["expires_at"] < now
                    or grant["revoked"]
                    or grant["client_id"] != client_id
                ):
                    return _oauth_error("invalid_grant")
                # The sandbox rotates on every refresh (Intuit: about every 24 hours), and
                # refuses the superseded token: the product must always keep the latest.
                held["superseded"] = True
                body = _issue(request, held["grant"], with_id_token=False)
            else:
                return _oauth_error("unsupported_grant_type")
            sandbox.save()
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def revoke(request: Request) -> Response:
        client_id = _client(request)
        if client_id is None:
            return _oauth_error("invalid_client", 401)
        try:
            value = json.loads(await request.body()).get("token", "")
        except (ValueError, AttributeError):
            return _oauth_error("invalid_request")
        if not isinstance(value, str):
            return _oauth_error("invalid_request")
        with sandbox.lock:
            held = sandbox.refresh_tokens.get(value) or sandbox.access_tokens.get(value)
            if held is not None:
                grant = sandbox.grants.get(held["grant"])
                if grant is not None and grant["client_id"] == client_id:
                    grant["revoked"] = True  # the whole connection: every token of it
                    sandbox.save()
        return Response(status_code=200)

    def jwks(_request: Request) -> JSONResponse:
        public = _key(sandbox).public_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        jwk.update({"kid": KID, "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": [jwk]})

    def userinfo(request: Request) -> Response:
        with sandbox.lock:
            grant = bearer_grant(sandbox, request)
            if grant is None:
                return _oauth_error("invalid_token", 401)
            return JSONResponse({"sub": grant["sub"], "email": "owner@example.com"})

    return [
        Route("/.well-known/openid_configuration", discovery),
        Route("/.well-known/openid_configuration/", discovery),
        Route("/connect/oauth2", authorize, methods=["GET"]),
        Route("/connect/oauth2", decide, methods=["POST"]),
        Route("/oauth2/v1/tokens/bearer", token_endpoint, methods=["POST"]),
        Route("/oauth2/v1/tokens/revoke", revoke, methods=["POST"]),
        Route("/oauth2/v1/openid_connect/keys", jwks),
        Route("/v1/openid_connect/userinfo", userinfo),
    ]


def bearer_grant(sandbox: Sandbox, request: Request) -> dict[str, Any] | None:
    """The live grant of the request's bearer access token (None: missing, unknown,
    expired or revoked). Call under the lock."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    held = sandbox.access_tokens.get(value.strip())
    if held is None or held["expires_at"] < sandbox.now():
        return None
    grant = sandbox.grants.get(held["grant"])
    if grant is None or grant["revoked"]:
        return None
    return grant

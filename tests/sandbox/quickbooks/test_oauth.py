"""OAuth 2 as Intuit runs it, driven by an unmodified intuit-oauth AuthClient."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jwt
import pytest
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from sandbox.quickbooks.conftest import QboSandbox


def test_discovery_has_what_authclient_reads(qbo: QboSandbox) -> None:
    doc = httpx.get(qbo.discovery_url).json()
    for key in (
        "authorization_endpoint", "token_endpoint", "revocation_endpoint", "issuer",
        "jwks_uri", "userinfo_endpoint",
    ):  # fmt: skip
        assert doc[key].startswith("http://127.0.0.1")
    client_id, secret = qbo.new_app()
    auth = qbo.auth_client(client_id, secret)
    assert auth.token_endpoint == doc["token_endpoint"]


def test_connect_authorize_callback_token_refresh(qbo: QboSandbox) -> None:
    realm = qbo.realm("USD")
    client_id, secret = qbo.new_app()
    auth = qbo.auth_client(client_id, secret)
    got = qbo.authorize(auth, realm, [Scopes.ACCOUNTING], decision="connect")
    assert got["realmId"] == realm and got["state"] == auth.state_token and got["code"]
    auth.get_bearer_token(got["code"], realm_id=got["realmId"])
    assert auth.expires_in == 3600
    assert 0 < auth.x_refresh_token_expires_in <= 100 * 86400
    first_access, first_refresh = auth.access_token, auth.refresh_token
    auth.refresh()
    assert auth.access_token != first_access and auth.refresh_token != first_refresh
    # The superseded refresh token is refused: the product must keep the latest.
    with pytest.raises(AuthClientError) as refused:
        auth.refresh(refresh_token=first_refresh)
    assert refused.value.status_code == 400 and "invalid_grant" in refused.value.content.decode()
    auth.refresh()  # the latest one still works


def test_cancel_redirects_with_access_denied(qbo: QboSandbox) -> None:
    client_id, secret = qbo.new_app()
    auth = qbo.auth_client(client_id, secret)
    got = qbo.authorize(auth, qbo.realm("USD"), [Scopes.ACCOUNTING], decision="cancel")
    assert got == {"error": "access_denied", "state": auth.state_token}


def test_codes_are_single_use(qbo: QboSandbox) -> None:
    client_id, secret = qbo.new_app()
    auth = qbo.auth_client(client_id, secret)
    got = qbo.authorize(auth, qbo.realm("USD"), [Scopes.ACCOUNTING])
    auth.get_bearer_token(got["code"], realm_id=got["realmId"])
    with pytest.raises(AuthClientError) as refused:
        auth.get_bearer_token(got["code"], realm_id=got["realmId"])
    assert refused.value.status_code == 400 and "invalid_grant" in refused.value.content.decode()


def test_token_endpoint_needs_basic_client_auth(qbo: QboSandbox) -> None:
    client_id, secret = qbo.new_app()
    auth = qbo.auth_client(client_id, "wrong-secret")
    got = qbo.authorize(auth, qbo.realm("USD"), [Scopes.ACCOUNTING])
    with pytest.raises(AuthClientError) as refused:
        auth.get_bearer_token(got["code"], realm_id=got["realmId"])
    assert refused.value.status_code == 401
    # Credentials in the body instead of HTTP Basic are refused as well.
    answer = httpx.post(
        auth.token_endpoint,
        data={
            "grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": auth.redirect_uri, "client_id": client_id, "client_secret": secret,
        },
    )  # fmt: skip
    assert answer.status_code == 401 and answer.json() == {"error": "invalid_client"}


def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(qbo: QboSandbox) -> None:
    client_id, _ = qbo.new_app()
    page = httpx.get(
        qbo.url + "/connect/oauth2",
        params={
            "client_id": client_id, "response_type": "code", "state": "x",
            "scope": Scopes.ACCOUNTING.value, "redirect_uri": "https://evil.example/cb",
        },
    )  # fmt: skip
    assert page.status_code == 400 and "redirect_uri" in page.text


def test_openid_scopes_get_an_rs256_id_token_checked_by_authclient(qbo: QboSandbox) -> None:
    auth = qbo.connect(qbo.realm("GBP"), [Scopes.ACCOUNTING, Scopes.OPENID, Scopes.EMAIL])
    # intuit-oauth validates the id_token against the JWKS and sets it only when valid.
    assert auth.id_token
    header = jwt.get_unverified_header(auth.id_token)
    assert header["alg"] == "RS256"
    claims = jwt.decode(auth.id_token, options={"verify_signature": False})
    assert claims["aud"] == [auth.client_id] and claims["realmid"] == auth.realm_id


def test_revoke_ends_the_connection(qbo: QboSandbox) -> None:
    auth = qbo.connect(qbo.realm("USD"))
    refresh = auth.refresh_token
    with qbo.http(auth) as api:
        assert api.get("/companyinfo/" + auth.realm_id).status_code == 200
        assert auth.revoke(token=refresh) is True
        answer = api.get("/companyinfo/" + auth.realm_id)
    assert answer.status_code == 401
    with pytest.raises(AuthClientError):
        auth.refresh(refresh_token=refresh)


def test_codes_expire_and_unused_refresh_tokens_lapse_after_100_days(
    make_qbo: Callable[..., QboSandbox],
) -> None:
    box = make_qbo("--rate-limit", "0")
    client_id, secret = box.new_app()
    auth = box.auth_client(client_id, secret)
    got = box.authorize(auth, box.realm("USD"), [Scopes.ACCOUNTING])
    with box.control() as c:
        c.post("/_sandbox/clock/advance", json={"seconds": 301}).raise_for_status()
        with pytest.raises(AuthClientError) as late:
            auth.get_bearer_token(got["code"], realm_id=got["realmId"])
        assert late.value.status_code == 400
        auth = box.connect(box.realm("USD"))
        assert auth.x_refresh_token_expires_in == 100 * 86400
        c.post("/_sandbox/clock/advance", json={"seconds": 100 * 86400 + 1}).raise_for_status()
    with pytest.raises(AuthClientError) as lapsed:
        auth.refresh()
    assert "invalid_grant" in lapsed.value.content.decode()


def test_refresh_never_reaches_past_five_years(make_qbo: Callable[..., QboSandbox]) -> None:
    box = make_qbo("--rate-limit", "0")
    auth = box.connect(box.realm("USD"))
    with box.control() as c:
        # Refresh every 90 days: each refresh token is fresh, but the grant ages.
        for _ in range(20):
            c.post("/_sandbox/clock/advance", json={"seconds": 90 * 86400}).raise_for_status()
            auth.refresh()
        left = auth.x_refresh_token_expires_in
        # Under 100 days left: the five-year cap, less the seconds the test itself took.
        assert 0 <= 5 * 365 * 86400 - 20 * 90 * 86400 - left <= 30
        c.post("/_sandbox/clock/advance", json={"seconds": left + 1}).raise_for_status()
    with pytest.raises(AuthClientError):
        auth.refresh()

"""The `regentra` command line: thin commands over the services."""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import structlog
import typer
from rich.console import Console
from rich.progress import Progress

from regentra.config import ConfigError, get_settings

if TYPE_CHECKING:  # imported where used: the CLI starts without loading the app
    from sqlalchemy.orm import Session

    from regentra.models import User

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Regentra PSA billing.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
org_app = typer.Typer(no_args_is_help=True, help="Organizations (MSPs).")
user_app = typer.Typer(no_args_is_help=True, help="Users of an organization.")
token_app = typer.Typer(no_args_is_help=True, help="Personal access tokens for the API.")
keys_app = typer.Typer(no_args_is_help=True, help="The secrets keyring.")
platform_app = typer.Typer(
    no_args_is_help=True, help="Billing each organization for Regentra (the platform account)."
)
sandbox_app = typer.Typer(
    no_args_is_help=True, help="Local emulators of vendor APIs (tests and the offline demo)."
)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(keys_app, name="keys")
app.add_typer(platform_app, name="platform")
app.add_typer(sandbox_app, name="sandbox")

err = Console(stderr=True)
log = structlog.get_logger(__name__)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _settings_or_exit() -> None:
    try:
        get_settings()
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Do not run the job queue consumer in this process (it runs by default "
            "when the queue is SQLite; with Redis, run `regentra worker` instead).",
        ),
    ] = False,
) -> None:
    """Serve the web app and API (and, on a SQLite queue, the job queue consumer)."""
    import uvicorn

    from regentra import queue
    from regentra.log_setup import configure as configure_logging

    _settings_or_exit()
    settings = get_settings()
    configure_logging(env=settings.env, level=settings.log_level)
    if os.environ.get("FORWARDED_ALLOW_IPS"):
        err.print(
            "[yellow]warning:[/yellow] FORWARDED_ALLOW_IPS is ignored: name the proxies to "
            "trust in REGENTRA_TRUSTED_PROXIES."
        )
    huey = queue.get_huey()
    running = None
    if queue.is_sqlite(huey) and not no_worker:
        running = queue.start_in_process(huey)
        # uvicorn re-raises SIGTERM once it has shut down; exit through `finally` instead of
        # dying on it, so tasks in flight get a few seconds to finish.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            "regentra.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # X-Forwarded-For/-Proto only from REGENTRA_TRUSTED_PROXIES (default: none); the
            # client address uvicorn derives is also the one sign-in throttling counts.
            proxy_headers=bool(settings.trusted_proxy_list),
            forwarded_allow_ips=settings.trusted_proxy_list,
            log_level="info",
        )
    finally:
        if running is not None:
            queue.stop_in_process(running)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command()
def worker(
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 2,
) -> None:
    """Run the job queue consumer (tasks and periodic jobs)."""
    from regentra import queue
    from regentra.log_setup import configure as configure_logging

    _settings_or_exit()
    settings = get_settings()
    configure_logging(env=settings.env, level=settings.log_level)
    huey = queue.get_huey()
    log.info("job queue consumer starting", tasks=queue.registered(), workers=workers)
    queue.consumer(huey, workers=workers).run()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (safe to run repeatedly)."""
    from regentra.migrate import upgrade

    _settings_or_exit()
    upgrade(get_settings().database_url, revision)
    err.print("database is up to date")


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="The MSP's name.")],
    admin_email: Annotated[str, typer.Option(help="First admin's email.")],
    admin_password: Annotated[str, typer.Option(help="First admin's password (10+ chars).")],
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
    currency: Annotated[str, typer.Option(help="Default ISO currency.")] = "USD",
) -> None:
    """Create an org and its first admin; prints JSON with org_id and user_id."""
    from regentra.db import session_scope
    from regentra.errors import RegentraError
    from regentra.orgs import service

    _settings_or_exit()
    try:
        with session_scope() as session:
            org, admin = service.create_org(
                session,
                name=name,
                admin_email=admin_email,
                admin_password=admin_password,
                timezone=timezone,
                default_currency=currency,
            )
            out = {"org_id": str(org.id), "user_id": str(admin.id), "slug": org.slug}
    except RegentraError as exc:
        raise _fail(exc.message) from None
    typer.echo(json.dumps(out))


@user_app.command("add")
def user_add(
    org: Annotated[str, typer.Option(help="Org id.")],
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, approver or technician.")],
    name: Annotated[str, typer.Option()] = "",
) -> None:
    """Add a user to an org; prints JSON with user_id."""
    from regentra.audit.service import Actor
    from regentra.db import session_scope
    from regentra.errors import RegentraError
    from regentra.models import Org
    from regentra.orgs import service

    _settings_or_exit()
    try:
        org_id = uuid.UUID(org)
    except ValueError:
        raise _fail(f"'{org}' is not an org id (a UUID, as `org create` prints)") from None
    try:
        with session_scope() as session:
            if session.get(Org, org_id) is None:
                raise _fail(f"no org with id {org_id}")
            user = service.add_user(
                session,
                org_id=org_id,
                email=email,
                password=password,
                role=role,
                name=name,
                actor=Actor.system(),
            )
            out = {"user_id": str(user.id), "org_id": str(org_id), "role": user.role}
    except RegentraError as exc:
        raise _fail(exc.message) from None
    typer.echo(json.dumps(out))


def _for_user(email: str, act: Callable[[Session, User], T]) -> T:
    """`act` on the user with this email, in one unit of work through the services (as the
    API does); an unknown email or a refusal exits with its message."""
    from regentra.db import session_scope
    from regentra.errors import RegentraError
    from regentra.orgs import service

    _settings_or_exit()
    try:
        with session_scope() as session:
            user = service.find_user_by_email(session, email)
            if user is None:
                raise _fail(f"no user with email {email}")
            return act(session, user)
    except RegentraError as exc:
        raise _fail(exc.message) from None


def _change_user(email: str, change: str, role: str = "") -> None:
    """deactivate, reactivate or set-role; prints JSON with the user's id, role and whether
    they are active."""
    from regentra.audit.service import Actor
    from regentra.orgs import service

    def act(session: Session, user: User) -> dict[str, Any]:
        changed = service.change_membership(
            session,
            org_id=user.org_id,
            user_id=user.id,
            actor=Actor.system(),
            active={"deactivate": False, "reactivate": True}.get(change),
            role=role or None,
        )
        return {"user_id": str(changed.id), "role": changed.role, "is_active": changed.is_active}

    typer.echo(json.dumps(_for_user(email, act)))


@user_app.command("deactivate")
def user_deactivate(email: Annotated[str, typer.Option()]) -> None:
    """Deactivate a user: their sessions end and their API tokens are revoked at once."""
    _change_user(email, "deactivate")


@user_app.command("reactivate")
def user_reactivate(email: Annotated[str, typer.Option()]) -> None:
    """Let a deactivated user sign in again."""
    _change_user(email, "reactivate")


@user_app.command("set-role")
def user_set_role(
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, approver or technician.")],
) -> None:
    """Change a user's role (the last active admin cannot be demoted)."""
    _change_user(email, "set-role", role)


@user_app.command("reset-password")
def user_reset_password(email: Annotated[str, typer.Option()]) -> None:
    """Print a single-use link (valid 30 minutes) for the user to set a new password."""
    from regentra.audit.service import Actor
    from regentra.auth import password_resets

    def act(session: Session, user: User) -> str:
        link, _ = password_resets.issue(
            session, org_id=user.org_id, user_id=user.id, actor=Actor.system()
        )
        return link

    typer.echo(_for_user(email, act))


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="A label, e.g. 'billing script'.")] = "cli",
    expires_days: Annotated[
        int | None, typer.Option(help="Days until the token expires (default: never).")
    ] = None,
) -> None:
    """Create a personal access token; prints it once."""
    from regentra.audit.service import Actor
    from regentra.auth import tokens
    from regentra.db import session_scope
    from regentra.errors import RegentraError
    from regentra.orgs.service import find_user_by_email

    _settings_or_exit()
    with session_scope() as session:
        user = find_user_by_email(session, email)
        if user is None or not user.is_active:
            raise _fail(f"no active user with email {email}")
        try:
            _, raw = tokens.create_token(
                session, user=user, name=name, actor=Actor.system(), expires_in_days=expires_days
            )
        except RegentraError as exc:
            raise _fail(exc.message) from None
    typer.echo(raw)


@keys_app.command("generate")
def keys_generate(
    kid: Annotated[str, typer.Option(help="Key id for the new key.")] = "",
) -> None:
    """Print a new keyring entry `kid:base64` to put first in REGENTRA_ENCRYPTION_KEYS."""
    key_id = kid or "k" + uuid.uuid4().hex[:8]
    typer.echo(f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the active (first) key."""
    from regentra.db import session_scope
    from regentra.errors import RegentraError
    from regentra.orgs import secrets

    _settings_or_exit()
    try:
        ring = secrets.keyring()
        with session_scope() as session:
            total = secrets.count(session)
            with Progress(console=err, transient=True) as progress:
                bar = progress.add_task("re-encrypting secrets", total=total)
                report = secrets.rotate_all(
                    session, ring=ring, progress=lambda: progress.advance(bar)
                )
    except RegentraError as exc:
        raise _fail(exc.message) from None
    typer.echo(
        json.dumps(
            {
                "active_key_id": ring.active_key_id,
                "secrets": report.total,
                "rotated": report.rotated,
            }
        )
    )


@app.command()
def reconcile(
    org: Annotated[
        str | None, typer.Option(help="Only this org (its id); default: every connected org.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON report per org instead of a summary.")
    ] = False,
) -> None:
    """Reconcile open invoices with Stripe now (what the hourly job does): invoices Stripe
    has as paid become paid here. Exits 1 when any org's run failed."""
    org_id = None
    if org is not None:
        try:
            org_id = uuid.UUID(org)
        except ValueError:
            raise _fail(f"'{org}' is not an org id (a UUID, as `org create` prints)") from None
    _settings_or_exit()
    from regentra.errors import RegentraError
    from regentra.integrations.stripe import reconcile as reconciliation

    try:
        reports = reconciliation.reconcile_all(org_id=org_id)
    except RegentraError as exc:
        raise _fail(exc.message) from None
    if not reports:
        err.print("no org has Stripe connected: nothing to reconcile")
    for report in reports:
        if as_json:
            typer.echo(json.dumps(report.to_json()))
            continue
        outcome = "ok" if report.ok else "FAILED"
        typer.echo(f"{report.org_id}  {outcome}  {report.message}")
        if report.paid:
            typer.echo(f"    paid: {', '.join(report.paid)}")
        if report.movements_changed:
            typer.echo(f"    refunds, disputes, payouts changed: {report.movements_changed}")
        for warning in report.warnings:
            typer.echo(f"    warning: {warning}")
    failed = [r for r in reports if not r.ok]
    if failed:
        err.print(f"[red]{len(failed)} of {len(reports)} orgs failed[/red] (see their messages)")
        raise typer.Exit(1)


@app.command("invoice-run")
def invoice_run(
    as_user: Annotated[
        str, typer.Option("--as", help="The admin the run acts as (their email); their org's run.")
    ],
    period: Annotated[
        str | None, typer.Option(help="The month to bill, YYYY-MM (default: last month).")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Send the drafts too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """The month-end invoice run: a draft per client with approved, uninvoiced time in the
    month (every entry billed once), then with --send each sent through Stripe, with a
    progress bar. Exits 1 when an invoice could not be made or sent (its reason is printed;
    running it again for the same month makes and sends only what is missing)."""
    from regentra.db import session_scope
    from regentra.errors import RegentraError
    from regentra.invoice_runs import service as runs
    from regentra.models import Org

    _settings_or_exit()
    try:
        with session_scope() as session:
            user = _admin(session, as_user)
            org = session.get(Org, user.org_id)
            assert org is not None
            start, end = runs.month(period) if period else runs.last_month(org)
            run = runs.create(session, org=org, user=user, period_start=start, period_end=end)
            run_id, count = run.id, len(runs.items_of(session, run))
        with session_scope() as session, Progress(console=err, transient=True) as progress:
            bar = progress.add_task(f"drafts for {start:%B %Y}", total=count)
            user, org = _admin(session, as_user), session.get(Org, user.org_id)
            assert org is not None
            runs.generate(
                session,
                org=org,
                user=user,
                run_id=run_id,
                progress=lambda _item: progress.advance(bar),
            )
        if send:
            with session_scope() as session:
                user, org = _admin(session, as_user), session.get(Org, user.org_id)
                assert org is not None
                queued = runs.request_send(
                    session, org=org, user=user, run_id=run_id, enqueue=False
                )
                to_send = runs.progress(runs.items_of(session, queued))["to_send"]
            with Progress(console=err, transient=True) as progress:
                bar = progress.add_task("sending through Stripe", total=to_send)
                runs.send_all(session_scope, run_id, on_sent=lambda _ok: progress.advance(bar))
        with session_scope() as session:
            shown = runs.describe(session, runs.get(session, org_id=org.id, run_id=run_id))
    except RegentraError as exc:
        raise _fail(exc.message) from None
    if as_json:
        typer.echo(json.dumps(shown, default=str))
    else:
        typer.echo(f"invoice run {shown['id']}: {shown['period_start']} to {shown['period_end']}")
        for item in shown["items"]:
            number = item["invoice_number"] or "-"
            reason = f"  {item['error']}" if item["error"] else ""
            typer.echo(f"  {item['client_name']:<30} {number:<12} {item['state']}{reason}")
    if any(item["state"] == "failed" for item in shown["items"]):
        raise typer.Exit(1)


def _admin(session: Session, email: str) -> User:
    """The active admin with this email (the CLI acts as them), or exit saying why."""
    from regentra.models import Role
    from regentra.orgs import service

    user = service.find_user_by_email(session, email)
    if user is None or not user.is_active:
        raise _fail(f"no active user with email {email}")
    if user.role != Role.admin.value:
        raise _fail(f"{email} is not an admin: invoice runs are for admins")
    return user


@platform_app.command("setup")
def platform_setup() -> None:
    """Make the platform's products, prices and webhook endpoint in its Stripe account (only
    what is missing: safe to run at every deploy) and record their ids. Prints the webhook
    endpoint's signing secret when it makes the endpoint: the only time Stripe shows it."""
    _settings_or_exit()
    from regentra.errors import RegentraError
    from regentra.integrations.platform import setup

    try:
        report = setup.set_up()
    except RegentraError as exc:
        raise _fail(exc.message) from None
    mode = "live" if report.livemode else "test"
    typer.echo(f"platform Stripe account {report.account_id or '(restricted key)'}, {mode} mode")
    for item in report.made:
        typer.echo(f"  made: {item}")
    for item in report.kept:
        typer.echo(f"  already there: {item}")
    typer.echo(f"webhook endpoint: {report.webhook_url}")
    if report.webhook_secret:
        typer.echo(
            "  its signing secret, shown this once: set REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET "
            f"to\n  {report.webhook_secret}"
        )
    if not report.made and not report.saved:
        typer.echo("nothing changed")


@sandbox_app.command("stripe")
def sandbox_stripe(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 12111,
    state: Annotated[
        Path | None, typer.Option(help="Keep state in this JSON file across restarts.")
    ] = None,
    rate_limit: Annotated[
        int,
        typer.Option(help="Requests per second per test-mode account (0: no rate limits at all)."),
    ] = 25,
    live_rate_limit: Annotated[
        int, typer.Option(help="Requests per second per live-mode account.")
    ] = 100,
    endpoint_rate_limit: Annotated[
        int, typer.Option(help="Requests per second per endpoint of an account, either mode.")
    ] = 25,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow binding an interface other than loopback.")
    ] = False,
) -> None:
    """Serve the Stripe API emulator (never for production use)."""
    import uvicorn

    from regentra.sandbox.stripe.app import create_app
    from regentra.sandbox.stripe.state import Sandbox

    if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        raise _fail(f"refusing to bind {host}: the sandbox is for this machine (--allow-remote)")
    sandbox = Sandbox(
        state_file=state,
        rate_limit=rate_limit,
        live_rate_limit=live_rate_limit,
        endpoint_rate_limit=endpoint_rate_limit,
    )
    sandbox.base_url = f"http://{host}:{port}"
    uvicorn.run(create_app(sandbox), host=host, port=port, log_level="warning")


@sandbox_app.command("quickbooks")
def sandbox_quickbooks(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 12112,
    state: Annotated[
        Path | None, typer.Option(help="Keep state in this JSON file across restarts.")
    ] = None,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per minute per company (0: no limits at all).")
    ] = 500,
    per_second: Annotated[int, typer.Option(help="Requests per second per company.")] = 10,
    concurrent: Annotated[int, typer.Option(help="Requests in flight per company.")] = 10,
    client_id: Annotated[str | None, typer.Option(help="The registered app's client id.")] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="The registered app's client secret.")
    ] = None,
    redirect_uri: Annotated[
        list[str] | None, typer.Option(help="A registered redirect URI (repeatable).")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow binding an interface other than loopback.")
    ] = False,
) -> None:
    """Serve the Intuit OAuth 2 + QuickBooks Online API emulator (never for production)."""
    import uvicorn

    from regentra.sandbox.quickbooks.app import create_app
    from regentra.sandbox.quickbooks.state import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        Sandbox,
    )

    if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        raise _fail(f"refusing to bind {host}: the sandbox is for this machine (--allow-remote)")
    sandbox = Sandbox(
        state_file=state,
        rate_limit=rate_limit,
        per_second=per_second,
        concurrent=concurrent,
        client_id=client_id or DEFAULT_CLIENT_ID,
        client_secret=client_secret or DEFAULT_CLIENT_SECRET,
        redirect_uris=redirect_uri or [],
    )
    sandbox.base_url = f"http://{host}:{port}"
    uvicorn.run(create_app(sandbox), host=host, port=port, log_level="warning")


def _serve_in_thread(asgi: Any, host: str, port: int, name: str) -> None:
    """Run an ASGI app in a background thread of this process (the demo's sandboxes)."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(asgi, host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, name=name, daemon=True).start()


def _start_stripe_sandbox(host: str, port: int, state: Path) -> str:
    """The Stripe sandbox, in this process (demo only)."""
    from regentra.sandbox.stripe.app import create_app
    from regentra.sandbox.stripe.state import Sandbox

    sandbox = Sandbox(state_file=state)
    sandbox.base_url = f"http://{host}:{port}"
    _serve_in_thread(create_app(sandbox), host, port, "stripe-sandbox")
    return sandbox.base_url


def _start_quickbooks_sandbox(host: str, port: int, state: Path, redirect_uri: str) -> str:
    """The QuickBooks Online sandbox (its seeded companies), in this process (demo only),
    its default app allowed to send browsers back to `redirect_uri`."""
    from regentra.sandbox.quickbooks.app import create_app
    from regentra.sandbox.quickbooks.state import Sandbox

    sandbox = Sandbox(state_file=state, redirect_uris=[redirect_uri])
    sandbox.base_url = f"http://{host}:{port}"
    _serve_in_thread(create_app(sandbox), host, port, "quickbooks-sandbox")
    return sandbox.base_url


def _ports_free_or_exit(addresses: list[tuple[str, int]]) -> None:
    """Before the demo touches var/: each port it serves on can be bound (a demo already
    running holds them; starting another would reset its database under it)."""
    import socket

    for host, port in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind((host, port))
            except OSError:
                err.print(
                    f"[red]Port {port} on {host} is in use[/red] (is a demo already running?): "
                    "stop it, or choose other ports (--port, --stripe-port, --quickbooks-port)."
                )
                raise typer.Exit(1) from None


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    stripe_port: Annotated[int, typer.Option(help="Port of the local Stripe sandbox.")] = 12111,
    quickbooks_port: Annotated[
        int, typer.Option(help="Port of the local QuickBooks Online sandbox.")
    ] = 12112,
    reset: Annotated[
        bool, typer.Option(help="Start from a fresh demo database and Stripe sandbox.")
    ] = True,
) -> None:
    """Seed a demo org on a fresh SQLite file and serve it, with the local Stripe and
    QuickBooks sandboxes."""
    from regentra import demo as demo_data
    from regentra.config import VAR_DIR

    _ports_free_or_exit([(host, port), ("127.0.0.1", stripe_port), ("127.0.0.1", quickbooks_port)])
    _settings_or_exit()
    url = f"http://{host}:{port}"
    stripe_state = VAR_DIR / "demo-stripe.json"
    quickbooks_state = VAR_DIR / "demo-quickbooks.json"
    if reset:
        stripe_state.unlink(missing_ok=True)
        quickbooks_state.unlink(missing_ok=True)
    stripe_url = _start_stripe_sandbox("127.0.0.1", stripe_port, stripe_state)
    from regentra.integrations.quickbooks.oauth import CALLBACK_PATH

    quickbooks_url = _start_quickbooks_sandbox(
        "127.0.0.1", quickbooks_port, quickbooks_state, url + CALLBACK_PATH
    )
    logins = demo_data.prepare(reset=reset)
    demo_data.use_stripe_sandbox(stripe_url, url)
    from regentra.sandbox.quickbooks.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    demo_data.use_quickbooks_sandbox(quickbooks_url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    demo_data.seed_stripe_catalog(stripe_url)
    demo_data.connect_stripe(stripe_url)
    demo_data.connect_quickbooks(quickbooks_url)
    demo_data.set_up_platform()
    err.print(f"\n[bold]Regentra demo[/bold] at {url}/login\n")
    for role, email, password in logins:
        err.print(f"  {role:<11} {email:<28} {password}")
    err.print(
        f"\n  Stripe sandbox at {stripe_url}: the demo org is connected to an account there,"
        " its webhook URL registered and the catalog syncing."
    )
    err.print(
        f"  QuickBooks Online sandbox at {quickbooks_url}: the demo org is connected to its"
        f" company {demo_data.DEMO_QBO_COMPANY!r} and mapped; paid invoices show up at"
        f" {quickbooks_url}/ with their Payment and fee Purchase."
    )
    err.print(
        "  Platform billing: a second account of the Stripe sandbox bills the demo org for"
        " Regentra (Settings → Billing: the trial, then Subscribe with card 4242 4242 4242"
        " 4242).\n"
    )
    serve(host=host, port=port, workers=1)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)

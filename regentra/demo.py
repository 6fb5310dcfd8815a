"""The offline demo: a fresh SQLite file seeded with an MSP that has work in every state."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session

from regentra.agreements import service as agreements
from regentra.agreements.schemas import AgreementCreate, LineCreate
from regentra.audit.service import Actor
from regentra.clients import service as clients
from regentra.clients.schemas import ClientCreate
from regentra.config import VAR_DIR, get_settings
from regentra.db import get_engine, get_sessionmaker, session_scope
from regentra.kit.files import private_file
from regentra.migrate import upgrade
from regentra.models import Client, Org, TimeEntry, User
from regentra.orgs import service as orgs
from regentra.tickets import service as tickets
from regentra.tickets.schemas import TicketCreate
from regentra.time_entries import service as entries
from regentra.time_entries.schemas import TimeEntryCreate

PASSWORD = "regentra-demo"  # noqa: S105 (the offline demo's published logins)
DEMO_DB = VAR_DIR / "demo.db"

USERS = [
    ("admin", "admin@northwind.example", "Morgan Admin"),
    ("approver", "approver@northwind.example", "Avery Approver"),
    ("technician", "taylor@northwind.example", "Taylor Tech"),
    ("technician", "jordan@northwind.example", "Jordan Tech"),
]


def use_demo_database() -> None:
    """Point this process (and the server it starts) at the demo's own SQLite file."""
    os.environ["REGENTRA_DATABASE_URL"] = f"sqlite:///{DEMO_DB}"
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def prepare(*, reset: bool = True) -> list[tuple[str, str, str]]:
    use_demo_database()
    if reset:
        for suffix in ("", "-wal", "-shm"):
            DEMO_DB.with_name(DEMO_DB.name + suffix).unlink(missing_ok=True)
    upgrade(get_settings().database_url)
    with session_scope() as session:
        if session.query(Org).count() == 0:
            seed(session)
    return [(role, email, PASSWORD) for role, email, _ in USERS]


def seed(session: Session) -> None:
    org, admin = orgs.create_org(
        session,
        name="Northwind IT Services",
        admin_email=USERS[0][1],
        admin_password=PASSWORD,
        admin_name=USERS[0][2],
        timezone="America/New_York",
        default_currency="USD",
        default_hourly_rate=15000,
    )
    people: dict[str, User] = {USERS[0][1]: admin}
    for role, email, name in USERS[1:]:
        people[email] = orgs.add_user(
            session,
            org_id=org.id,
            email=email,
            password=PASSWORD,
            role=role,
            name=name,
            actor=Actor.of(admin),
        )
    approver = people["approver@northwind.example"]
    taylor = people["taylor@northwind.example"]
    jordan = people["jordan@northwind.example"]
    by_admin = Actor.of(admin)
    contoso = clients.create(
        session,
        org=org,
        data=ClientCreate(name="Contoso Dental", billing_email="ap@contoso-dental.example"),
        actor=by_admin,
    )
    fabrikam = clients.create(
        session,
        org=org,
        data=ClientCreate(
            name="Fabrikam Legal",
            billing_email="billing@fabrikam-legal.example",
            hourly_rate=18500,
            compliance_enabled=True,
        ),
        actor=by_admin,
    )
    tailspin = clients.create(
        session,
        org=org,
        data=ClientCreate(
            name="Tailspin Logistics", billing_email="finance@tailspin.example", currency="EUR"
        ),
        actor=by_admin,
    )
    t = [
        tickets.create(
            session, org_id=org.id, data=TicketCreate(client_id=c.id, title=title), actor=by_admin
        )
        for c, title in (
            (contoso, "Front desk PC will not boot"),
            (contoso, "Set up new hygienist workstation"),
            (fabrikam, "Quarterly backup restore test"),
            (fabrikam, "MFA rollout for partners"),
            (tailspin, "Warehouse Wi-Fi dead spots"),
        )
    ]
    today = datetime.now(ZoneInfo(org.timezone)).date()

    def log(
        tech: User,
        ticket_idx: int,
        days_ago: int,
        minutes: int,
        text: str,
        *,
        on: date | None = None,
    ) -> TimeEntry:
        return entries.create(
            session,
            org=org,
            user=tech,
            data=TimeEntryCreate(
                ticket_id=t[ticket_idx].id,
                work_date=on or today - timedelta(days=days_ago),
                minutes=minutes,
                description=text,
            ),
        )

    # Drafts
    log(taylor, 0, 0, 45, "Diagnosed failed SSD, ordered replacement")
    log(jordan, 4, 0, 120, "Site survey, heat map of the warehouse")
    # Submitted, waiting for approval
    for tech, idx, ago, mins, text in (
        (taylor, 1, 1, 90, "Imaged workstation, installed practice software"),
        (jordan, 3, 1, 60, "Enrolled partners in MFA, support calls"),
        (taylor, 2, 2, 150, "Restore test of file server and SQL backups"),
    ):
        e = log(tech, idx, ago, mins, text)
        entries.submit(session, user=tech, entry_id=e.id)
    # Approved, ready to invoice (PSA → Invoices → New invoice)
    for tech, idx, ago, mins, text in (
        (taylor, 0, 3, 30, "Remote session: printer queue stuck"),
        (taylor, 1, 6, 120, "Replaced front desk PC, migrated profiles"),
        (jordan, 0, 8, 45, "Patched imaging server, rebooted after hours"),
        (jordan, 2, 4, 75, "Verified offsite replication"),
        (jordan, 4, 5, 240, "Installed two access points"),
    ):
        e = log(tech, idx, ago, mins, text)
        entries.submit(session, user=tech, entry_id=e.id)
        entries.approve(session, org=org, user=approver, entry_id=e.id)
    # Last month's approved time, for every client: what a month-end invoice run bills
    # (Invoices → New run; its period is last month by default).
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    for tech, idx, day, mins, text in (
        (taylor, 0, 6, 60, "Replaced the front desk UPS batteries"),
        # Contoso's 10 included hours a month are used up: the rest is billed at its rate.
        (taylor, 1, 14, 480, "Hygienist workstations: imaging, practice software, sensors"),
        (jordan, 1, 26, 180, "Chairside sensor drivers on the hygienist workstations"),
        (jordan, 2, 12, 90, "Monthly backup review with the office manager"),
        (taylor, 3, 19, 45, "Conditional access policy for partners"),
        (jordan, 4, 21, 120, "Label printer drivers on the warehouse PCs"),
    ):
        e = log(tech, idx, 0, mins, text, on=last_month.replace(day=day))
        entries.submit(session, user=tech, entry_id=e.id)
        entries.approve(session, org=org, user=approver, entry_id=e.id)
    seed_agreements(
        session, org=org, admin=admin, contoso=contoso, fabrikam=fabrikam, since=last_month
    )
    # Rejected
    e = log(taylor, 3, 6, 480, "MFA rollout")
    entries.submit(session, user=taylor, entry_id=e.id)
    entries.reject(
        session,
        org=org,
        user=approver,
        entry_id=e.id,
        reason="8 hours looks high for this ticket: split it by day and add detail",
    )


def seed_agreements(
    session: Session, *, org: Org, admin: User, contoso: Client, fabrikam: Client, since: date
) -> None:
    """The recurring services (issue 17), from the first of last month: Contoso's managed
    services billed monthly in advance, 25 managed endpoints at the demo catalog's price with
    10 hours included (time beyond at Contoso's rate); Fabrikam's backup billed in arrears,
    10 seats at $5.00. The catalog reaches Regentra only when Stripe is connected (after this
    seed), so the endpoint line is a description at the catalog's price."""
    endpoint_price = next(
        amount for name, _, amount, _ in DEMO_CATALOG if name == "Managed endpoint"
    )
    for client, name, billing, included, line in (
        (contoso, "Managed services", "advance", 600, ("Managed endpoint", 25, endpoint_price)),
        (fabrikam, "Backup", "arrears", None, ("Backup seat", 10, 500)),
    ):
        description, quantity, unit = line
        agreements.create(
            session,
            org=org,
            user=admin,
            data=AgreementCreate(
                client_id=client.id,
                name=name,
                starts_on=since,
                billing=billing,
                included_minutes=included,
                lines=[LineCreate(description=description, quantity=quantity, unit_amount=unit)],
            ),
        )


# ---- Stripe (the local sandbox) --------------------------------------------------------------

DEMO_SECRET_KEY = "sk_test_RegentraDemo0001"  # noqa: S105 (a sandbox key, not a secret)
DEMO_PUBLISHABLE_KEY = "pk_test_RegentraDemo0001"
DEMO_CATALOG = [
    ("Managed endpoint", "Monitoring, patching and antivirus per device", 2500, "month"),
    ("Managed server", "Monitoring, patching and backup per server", 12500, "month"),
    ("Microsoft 365 seat", "Licence and support per user", 2200, "month"),
    ("Onsite hour", "Technician onsite, per hour", 17500, None),
    ("Remote support hour", "Remote helpdesk, per hour", 15000, None),
    ("Project hour", "Projects and migrations, per hour", 18500, None),
]


def use_stripe_sandbox(stripe_url: str, app_url: str) -> None:
    """Point this process (and the server it starts) at the local Stripe sandbox."""
    os.environ["REGENTRA_STRIPE_API_BASE"] = stripe_url
    os.environ["REGENTRA_BASE_URL"] = app_url
    get_settings.cache_clear()


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def seed_stripe_catalog(stripe_url: str) -> None:
    """What the MSP would have in its Stripe account: products with prices."""
    auth = {"Authorization": f"Bearer {DEMO_SECRET_KEY}"}
    _wait_for(stripe_url + "/v1/account")
    with httpx.Client(base_url=stripe_url, headers=auth, timeout=30) as stripe_api:
        if stripe_api.get("/v1/products", params={"limit": 1}).json()["data"]:
            return
        for name, description, amount, interval in DEMO_CATALOG:
            data = {
                "name": name,
                "description": description,
                "default_price_data[unit_amount]": str(amount),
                "default_price_data[currency]": "usd",
            }
            if interval:
                data["default_price_data[recurring][interval]"] = interval
            stripe_api.post("/v1/products", data=data).raise_for_status()


def connect_stripe(stripe_url: str) -> None:
    """Connect the demo org as its admin would: paste the keys (the first save fills the
    catalog), add the org's webhook URL in the Stripe "Dashboard" (the sandbox's control
    API), and paste the signing secret back."""
    from regentra.integrations.stripe import settings as stripe_settings

    with session_scope() as session:
        org = session.query(Org).one()
        org_id = org.id
        if stripe_settings.status(session, org_id=org_id)["webhook_signing_secret_configured"]:
            return
        actor = Actor.system()
        stripe_settings.save_keys(
            session,
            org_id=org_id,
            keys=stripe_settings.StripeKeys(
                publishable_key=DEMO_PUBLISHABLE_KEY, secret_key=DEMO_SECRET_KEY
            ),
            actor=actor,
        )
        webhook_url = stripe_settings.status(session, org_id=org_id)["webhook_url"]
    response = httpx.post(
        stripe_url + "/_sandbox/webhooks",
        data={"url": webhook_url},
        headers={"Authorization": f"Bearer {DEMO_SECRET_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    with session_scope() as session:
        stripe_settings.save_keys(
            session,
            org_id=org_id,
            keys=stripe_settings.StripeKeys(
                publishable_key=DEMO_PUBLISHABLE_KEY,
                webhook_signing_secret=response.json()["secret"],
            ),
            actor=Actor.system(),
        )


# ---- Platform billing: a second sandbox account bills the demo org for Regentra ----------------

DEMO_PLATFORM_KEY = "sk_test_RegentraPlatform0001"
PLATFORM_SECRET_FILE = "demo-platform-webhook-secret"  # noqa: S105 (a file name)


def set_up_platform() -> None:
    """Billing on, as an operator turns it on: the platform key, `regentra platform setup`
    (products, prices, the platform webhook endpoint) and its signing secret. The secret is
    kept in var/ (0600) for the next `make demo` without reset: Stripe shows it only once."""
    from regentra.integrations.platform import setup

    os.environ["REGENTRA_PLATFORM_STRIPE_SECRET_KEY"] = DEMO_PLATFORM_KEY
    get_settings.cache_clear()
    kept = VAR_DIR / PLATFORM_SECRET_FILE
    report = setup.set_up()
    if report.webhook_secret is not None:
        kept.unlink(missing_ok=True)
        private_file(kept)
        kept.write_text(report.webhook_secret + "\n")
    # The endpoint and this file live and go together (the sandbox's state is in var/ too).
    os.environ["REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET"] = kept.read_text().strip()
    get_settings.cache_clear()


# ---- QuickBooks Online: the demo org connected to the sandbox's US company, mapped ------------

DEMO_QBO_COMPANY = "Regentra Sandbox US"


def use_quickbooks_sandbox(quickbooks_url: str, client_id: str, client_secret: str) -> None:
    """Point this process (and the server it starts) at the local QuickBooks sandbox, as
    its app `client_id` (whose redirect URI is the demo's callback)."""
    os.environ["REGENTRA_QBO_CLIENT_ID"] = client_id
    os.environ["REGENTRA_QBO_CLIENT_SECRET"] = client_secret
    os.environ["REGENTRA_QBO_ENVIRONMENT"] = quickbooks_url + "/.well-known/openid_configuration"
    get_settings.cache_clear()


def _authorize(quickbooks_url: str, url: str) -> dict[str, str]:
    """The admin on the sandbox's authorize page: picks the US company and presses Connect.
    Returns the callback's query (code, state, realmId)."""
    with httpx.Client(timeout=30) as browser:
        companies = browser.get(quickbooks_url + "/_sandbox/companies").json()["data"]
        realm = next(c["realm_id"] for c in companies if c["name"] == DEMO_QBO_COMPANY)
        browser.get(url).raise_for_status()
        form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        form.update({"realmId": realm, "decision": "connect"})
        answer = browser.post(quickbooks_url + "/connect/oauth2", data=form)
    location = answer.headers.get("location", "")
    if answer.status_code != 302 or "code=" not in location:
        raise RuntimeError(f"the QuickBooks sandbox did not authorize the demo: {answer.text}")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def connect_quickbooks(quickbooks_url: str) -> None:
    """Connect the demo org as its admin would (Connect, pick the company on the authorize
    page, back through the callback), then save the card's suggested mapping."""
    from regentra.integrations.quickbooks import connection, mapping
    from regentra.integrations.quickbooks import settings as qbo_settings

    _wait_for(quickbooks_url + "/_sandbox/clock")
    with session_scope() as session:
        org = session.query(Org).one()
        org_id = org.id
        conn = connection.find(session, org_id=org_id)
        if connection.ready(conn):
            return
        admin = session.query(User).filter_by(org_id=org_id, role="admin").first()
        assert admin is not None
        connected = connection.is_connected(conn) and conn is not None
        url = None if connected else qbo_settings.start_connect(session, org_id=org_id, user=admin)
    if url is not None:
        got = _authorize(quickbooks_url, url)
        with session_scope() as session:
            admin = session.get(User, admin.id)
            assert admin is not None
            qbo_settings.finish_connect(
                session,
                user=admin,
                state=got.get("state"),
                code=got.get("code"),
                realm_id=got.get("realmId"),
                error=None,
            )
    fields = mapping.choices(org_id)["fields"]
    vendor = fields["fee_vendor"]
    body = mapping.MappingBody(
        deposit_account_id=fields["deposit_account"]["suggested_id"],
        other_deposit_account_id=fields["other_deposit_account"]["suggested_id"],
        fee_account_id=fields["fee_account"]["suggested_id"],
        fee_paid_from_account_id=fields["fee_paid_from_account"]["suggested_id"],
        fee_vendor_id=vendor["suggested_id"],
        create_vendor=None if vendor["suggested_id"] else "Stripe",
        income_item_id=fields["income_item"]["suggested_id"],
    )
    with session_scope() as session:
        mapping.save(session, org_id=org_id, body=body, actor=Actor.system())

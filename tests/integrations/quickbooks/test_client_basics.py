from sqlalchemy import select
from support.qbo_fixtures import QboOrg

from regentra.integrations.quickbooks.client import QuickBooks
from regentra.models import QuickBooksConnection


def test_connect_and_read(make_org, connect_quickbooks, db):
    kit = make_org()
    q: QboOrg = connect_quickbooks(kit, currency="GBP", multicurrency=True)
    with db.session() as s:
        conn = s.scalar(
            select(QuickBooksConnection).where(QuickBooksConnection.org_id == kit.org.id)
        )
        assert conn.realm_id == q.realm and conn.home_currency == "GBP" and conn.multicurrency
        assert conn.company_name
    with QuickBooks(kit.org.id) as qbo:
        accounts = qbo.query("select * from Account")
        assert len(accounts) > 5
    assert q.objects("Account")

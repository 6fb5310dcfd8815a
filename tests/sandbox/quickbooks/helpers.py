"""Small helpers over the thin httpx client: look up seeded objects, make customers and
invoices, and unwrap Intuit's faults."""

# QuickBooks query strings built in tests, not SQL:
# ruff: noqa: S608

from __future__ import annotations

from typing import Any

import httpx

from sandbox.quickbooks.conftest import unique


def find(api: httpx.Client, entity: str, name: str, field: str = "Name") -> dict[str, Any]:
    answer = api.get("/query", params={"query": f"select * from {entity} where {field} = '{name}'"})
    answer.raise_for_status()
    (obj,) = answer.json()["QueryResponse"][entity]
    return dict(obj)


def post(api: httpx.Client, entity: str, body: dict[str, Any], **params: str) -> httpx.Response:
    return api.post(f"/{entity.lower()}", json=body, params=params)


def created(api: httpx.Client, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = post(api, entity, body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()[entity])


def fault(answer: httpx.Response, status: int = 400) -> dict[str, Any]:
    """The one error of a fault answer, after checking Intuit's envelope."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"Fault", "time"}
    (error,) = body["Fault"]["Error"]
    assert set(error) == {"Message", "Detail", "code", "element"}
    return {"type": body["Fault"]["type"], **error}


def customer(api: httpx.Client, **extra: Any) -> dict[str, Any]:
    return created(api, "Customer", {"DisplayName": unique("Contoso"), **extra})


def invoice(api: httpx.Client, customer_id: str, amount: float, **extra: Any) -> dict[str, Any]:
    item = find(api, "Item", "Services")
    return created(
        api,
        "Invoice",
        {
            "CustomerRef": {"value": customer_id},
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
            **extra,
        },
    )

"""Throughput of the QuickBooks sandbox for a mixed workload (the calls Regentra's postings
make: customer, invoice, payment, fee purchase, query, read), through plain HTTP with a
bearer token from a real intuit-oauth connect.

Prints requests/s for the mixed workload and for a baseline measured in the same run (GET
companyinfo), and their ratio. Exits 1 below 300 req/s, the floor that keeps suites fast.

    .venv/bin/python bench/sandbox_quickbooks.py [--requests 1200] [--threads 4]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from sandbox import ROOT, free_port

FLOOR = 300.0
REDIRECT = "https://bench.example/callback"


def rate(n: int, threads: int, op: Callable[[int], object]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(op, range(n)))
    return n / (time.perf_counter() - started)


def start() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "regentra", "sandbox", "quickbooks", "--port", str(port),
         "--rate-limit", "0"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/_sandbox/clock", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("sandbox did not start")


def connect(url: str) -> AuthClient:
    httpx.post(url + "/_sandbox/apps", json={
        "client_id": "bench", "client_secret": "bench-secret", "redirect_uris": [REDIRECT],
    }).raise_for_status()  # fmt: skip
    realm = httpx.get(url + "/_sandbox/companies").json()["data"][0]["realm_id"]
    auth = AuthClient("bench", "bench-secret", REDIRECT, url + "/.well-known/openid_configuration")
    authorize = auth.get_authorization_url([Scopes.ACCOUNTING])
    form = {k: v[0] for k, v in parse_qs(urlparse(authorize).query).items()}
    answer = httpx.post(url + "/connect/oauth2", data={**form, "realmId": realm,
                                                       "decision": "connect"})  # fmt: skip
    got = {k: v[0] for k, v in parse_qs(urlparse(answer.headers["location"]).query).items()}
    auth.get_bearer_token(got["code"], realm_id=got["realmId"])
    return auth


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    proc, url = start()
    try:
        auth = connect(url)
        api = httpx.Client(
            base_url=f"{url}/v3/company/{auth.realm_id}",
            headers={"Authorization": f"Bearer {auth.access_token}"},
            params={"minorversion": "75"},
            limits=httpx.Limits(max_connections=args.threads * 2),
        )

        def q(text: str) -> Any:
            return api.get("/query", params={"query": text}).json()["QueryResponse"]

        accounts = {a["Name"]: a["Id"] for a in q("select * from Account")["Account"]}
        item = q("select * from Item where Name = 'Services'")["Item"][0]["Id"]
        vendor = q("select * from Vendor where DisplayName = 'Stripe'")["Vendor"][0]["Id"]
        customer = api.post("/customer", json={"DisplayName": "Bench"}).json()["Customer"]["Id"]
        counter = itertools.count()

        def baseline(_: int) -> object:
            return api.get(f"/companyinfo/{auth.realm_id}").raise_for_status()

        def mixed(i: int) -> object:
            match i % 6:
                case 0:
                    body: dict[str, Any] = {"DisplayName": f"Customer {next(counter)}"}
                    return api.post("/customer", json=body).raise_for_status()
                case 1 | 2:
                    inv = api.post("/invoice", json={
                        "CustomerRef": {"value": customer},
                        "Line": [{"Amount": 100, "DetailType": "SalesItemLineDetail",
                                  "SalesItemLineDetail": {"ItemRef": {"value": item}}}],
                    }).raise_for_status().json()["Invoice"]  # fmt: skip
                    if i % 6 == 1:
                        return inv
                    return api.post("/payment", params={"requestid": f"pay-{i}"}, json={
                        "CustomerRef": {"value": customer}, "TotalAmt": 100,
                        "DepositToAccountRef": {"value": accounts["Stripe Clearing"]},
                        "Line": [{"Amount": 100,
                                  "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
                    }).raise_for_status()  # fmt: skip
                case 3:
                    return api.post("/purchase", json={
                        "PaymentType": "Cash",
                        "AccountRef": {"value": accounts["Stripe Clearing"]},
                        "EntityRef": {"value": vendor, "type": "Vendor"}, "TotalAmt": 2.9,
                        "Line": [{"Amount": 2.9, "DetailType": "AccountBasedExpenseLineDetail",
                                  "AccountBasedExpenseLineDetail": {
                                      "AccountRef": {"value": accounts["Merchant Fees"]}}}],
                    }).raise_for_status()  # fmt: skip
                case 4:
                    return q("select * from Invoice where Balance > '0' maxresults 10")
                case _:
                    return api.get(f"/customer/{customer}").raise_for_status()

        rate(50, args.threads, baseline)  # warm up
        base = rate(args.requests, args.threads, baseline)
        work = rate(args.requests, args.threads, mixed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"baseline GET companyinfo: {base:8.1f} req/s")
    print(f"mixed workload:           {work:8.1f} req/s  ({work / base:.2f} x baseline)")
    print(
        f"floor:                    {FLOOR:8.1f} req/s  -> {'ok' if work >= FLOOR else 'TOO SLOW'}"
    )
    return 0 if work >= FLOOR else 1


if __name__ == "__main__":
    raise SystemExit(main())

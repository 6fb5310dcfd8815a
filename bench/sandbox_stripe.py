"""Throughput of the Stripe sandbox for a mixed workload, through the real `stripe` SDK.

Prints requests/s for the mixed workload and for a baseline measured in the same run (the
lightest authenticated call, GET /v1/account), and their ratio. Exits 1 below 200 req/s,
the floor that keeps the suites fast.

    .venv/bin/python bench/sandbox_stripe.py [--requests 1200] [--threads 4]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import stripe
from sandbox import start_sandbox

FLOOR = 200.0


def rate(n: int, threads: int, op: Callable[[int], object]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(op, range(n)))
    return n / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    proc, url = start_sandbox()
    try:
        client = stripe.StripeClient(
            f"sk_test_{uuid.uuid4().hex}", base_addresses={"api": url}, max_network_retries=0
        )
        product = client.v1.products.create(params={"name": "Seed"})
        customer = client.v1.customers.create(params={"email": "bench@example.com"})

        def baseline(_: int) -> object:
            return client.v1.accounts.retrieve_current()

        def mixed(i: int) -> object:
            match i % 6:
                case 0:
                    return client.v1.products.create(params={"name": f"P{i}"})
                case 1:
                    return client.v1.prices.create(
                        params={"product": product.id, "unit_amount": 100 + i, "currency": "usd"}
                    )
                case 2:
                    return client.v1.products.list(params={"limit": 10})
                case 3:
                    return client.v1.customers.retrieve(customer.id)
                case 4:
                    return client.v1.customers.create(params={"email": f"c{i}@example.com"})
                case _:
                    return client.v1.prices.list(params={"product": product.id, "limit": 5})

        rate(50, args.threads, baseline)  # warm up
        base = rate(args.requests, args.threads, baseline)
        work = rate(args.requests, args.threads, mixed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"baseline GET /v1/account: {base:8.1f} req/s")
    print(f"mixed workload:           {work:8.1f} req/s  ({work / base:.2f} x baseline)")
    print(
        f"floor:                    {FLOOR:8.1f} req/s  -> {'ok' if work >= FLOOR else 'TOO SLOW'}"
    )
    return 0 if work >= FLOOR else 1


if __name__ == "__main__":
    raise SystemExit(main())

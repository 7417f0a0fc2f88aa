#!/usr/bin/env python3
"""Writes the request paths bench/scale.sh replays, sampled from a seeded database.

    scale_paths.py DATABASE_URL BASE_URL OUT_DIR

Samples rows at random from the whole tables (not the newest page), so reads spread over the
catalogue as real traffic does, and writes one file of paths per load into OUT_DIR, plus
`customer` (the email of the customer with the most orders, whose list is the longest).
"""

import base64
import json
import os
import random
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import datetime

SAMPLE = 500
random.seed(15)


def query(url, sql):
    """Rows of text columns, from PostgreSQL (psql) or a SQLite file."""
    if url.startswith("postgres"):
        out = subprocess.run(
            ["psql", url, "-AtF", "\t", "-c", sql], check=True, capture_output=True, text=True
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]
    path = url.split("://", 1)[1].split("?", 1)[0]
    with sqlite3.connect(path) as db:
        return [[str(value) for value in row] for row in db.execute(sql)]


def uuid_text(url, column):
    """`column` as a dashed UUID on both backends (SQLite keeps UUIDs as 16-byte blobs)."""
    if url.startswith("postgres"):
        return f"{column}::text"
    return f"CASE typeof({column}) WHEN 'blob' THEN lower(hex({column})) ELSE {column} END"


def dashed(raw):
    raw = raw.replace("-", "")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def get(base, path):
    with urllib.request.urlopen(base + path) as response:
        return json.load(response)["data"]


def cursor(product):
    created = datetime.fromisoformat(product["createdAt"].replace("Z", "+00:00"))
    micros = int(created.timestamp()) * 1_000_000 + created.microsecond
    raw = f"{micros}|{product['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def main():
    url, base, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)

    def write(name, paths):
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(paths) + "\n")

    rows = query(
        url,
        f"SELECT {uuid_text(url, 'id')}, name FROM products ORDER BY random() LIMIT {SAMPLE}",
    )
    ids = [dashed(row[0]) for row in rows]
    write("product", [f"/api/v1/products/{i}" for i in ids])
    # A deep page anywhere in the list: the cursor of a random product.
    cursors = [cursor(get(base, f"/api/v1/products/{i}")) for i in ids[:100]]
    write("list_deep", [f"/api/v1/products?limit=20&cursor={c}" for c in cursors])
    categories = [c["id"] for c in get(base, "/api/v1/categories")]
    write(
        "list_filtered",
        [
            f"/api/v1/products?limit=20&categoryId={c}&minPrice=10&maxPrice=100&inStock=true"
            for c in categories
        ],
    )
    # Brand and noun of a random product: rare brands dominate the long tail.
    words = [row[1].split() for row in rows]
    write(
        "search_rare",
        [f"/api/v1/products/search?limit=20&q={w[0]}+{w[-1]}" for w in words],
    )
    # The commonest adjectives of the seed's Zipf draw: each is in a tenth or more of names.
    write(
        "search_common",
        [f"/api/v1/products/search?limit=20&q={w}" for w in ("lightweight", "waterproof")],
    )
    # An admin looks a customer up by name: first and last (a last name alone is shared by
    # a 26th of the seed's users).
    users = query(url, f"SELECT name FROM users ORDER BY random() LIMIT {SAMPLE}")
    write(
        "users_search",
        [
            f"/api/v1/users?limit=20&search={u[0].lower().replace(' ', '+')}"
            for u in users
            if u[0]
        ],
    )
    customer = query(
        url,
        "SELECT u.email FROM users u JOIN orders o ON o.customer_id = u.id "
        "GROUP BY u.email ORDER BY count(*) DESC LIMIT 1",
    )
    with open(os.path.join(out, "customer"), "w") as f:
        f.write(customer[0][0] if customer else "")


main()

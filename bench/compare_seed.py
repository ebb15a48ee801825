#!/usr/bin/env python3
"""Compares the benchmark data set seeded by the DRF peer and by campus, row by row.

  python3 bench/compare_seed.py DRF_SQLITE CAMPUS_SQLITE

Both files are SQLite databases seeded for the same N (the peer's
`manage.py seed_bench --students N`, campus's `campus seed-bench clearance
--students N`). For every table of the data set it checks that both hold the
same ids and, row by row, the same value in every column both schemas have,
after undoing the storage differences: UUIDs (Django: 32 hex characters;
campus: 16 bytes), timestamps (text in two spellings), money (Django: units;
campus: cents), JSON (spacing), and a blank text (Django's '' where campus
stores NULL). Not compared: `updated_at` (not significant in the data set) and
the password hashes (random salts), which are instead checked to verify
`Clearance-Bench-2026`. Exits 1 on any difference. Standard library only.
"""

import base64
import hashlib
import json
import sqlite3
import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal

PASSWORD = "Clearance-Bench-2026"
TABLES = ["departments", "users", "students", "finance_records", "clearances", "approvals",
          "notifications", "audit_logs", "payments"]
MONEY = {"tuition_balance", "graduation_fee", "amount"}
SKIP = {"updated_at", "password"}


def norm(column, value):
    if value is None or value == "":
        return None
    if isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes=value))
    if isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value):
        return str(uuid.UUID(hex=value))
    if column in MONEY:
        return Decimal(str(value))
    if column in ("changes",):
        return json.loads(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    return value


def rows(conn, table, money_scale):
    cur = conn.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    out = {}
    for raw in cur:
        row = {}
        for name, value in zip(names, raw):
            value = norm(name, value)
            if name in MONEY and value is not None:
                value = value / money_scale
            row[name] = value
        out[row["id"]] = row
    return out, names


def verifies(encoded):
    algorithm, iterations, salt, digest = encoded.split("$")
    assert algorithm == "pbkdf2_sha256", algorithm
    computed = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), int(iterations))
    return base64.b64encode(computed).decode() == digest, int(iterations)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    drf, campus = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
    failures = 0
    for table in TABLES:
        a, a_cols = rows(drf, table, 1)
        b, b_cols = rows(campus, table, 100)
        shared = [c for c in a_cols if c in b_cols and c not in SKIP]
        if a.keys() != b.keys():
            failures += 1
            print(f"{table}: ids differ: {len(a.keys() - b.keys())} only in the peer's, "
                  f"{len(b.keys() - a.keys())} only in campus's")
        diffs = 0
        for key in sorted(a.keys() & b.keys()):
            for column in shared:
                if a[key][column] != b[key][column]:
                    diffs += 1
                    if diffs <= 5:
                        print(f"{table} {key} {column}: peer {a[key][column]!r}, "
                              f"campus {b[key][column]!r}")
        failures += diffs
        print(f"{table}: {len(a)} rows in the peer's, {len(b)} in campus's; "
              f"{diffs} differences in {len(shared)} shared columns ({', '.join(shared)})")
    for name, conn in (("peer", drf), ("campus", campus)):
        hashes = {h for (h,) in conn.execute("SELECT DISTINCT password FROM users")}
        checks = [verifies(h) for h in hashes]
        print(f"{name}: {len(hashes)} distinct password hash(es), verify {PASSWORD}: "
              f"{all(ok for ok, _ in checks)}, iterations {sorted({i for _, i in checks})}")
        failures += sum(not ok for ok, _ in checks)
    print("identical" if failures == 0 else f"{failures} differences")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

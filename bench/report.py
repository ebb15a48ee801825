#!/usr/bin/env python3
"""Helpers of the bench scripts for the driver's JSON (standard library only).

  report.py annotate OUT_JSON PEAK_RSS_KIB MIXED_CONNECTIONS [SCENARIO=WRK_OUTPUT ...]
      adds the server's peak RSS and the mixed run's figures (wrk outputs
      holding scenarios.lua's "RESULT {...}" line) to the driver's JSON
  report.py raw OUT_JSON RAW_JSON...
      adds raw_queries' figures (the same statements straight through sqlx)
  report.py compare PEER_JSON CAMPUS_JSON
      prints the side-by-side table (Markdown)
"""

import json
import sys

READS = ["student_clearances_list", "admin_clearances_list", "clearance_detail", "progress",
         "notifications_unread", "audit_list"]
# Issue 11's targets: (minimum ratio to the peer, p99 ceiling in ms).
TARGETS = {**{s: (30, 25) for s in READS}, "approve_write": (20, 50)}


def annotate(out_json, peak_kib, mixed_connections, outputs):
    with open(out_json) as f:
        data = json.load(f)
    data["peak_rss_mib"] = round(int(peak_kib) / 1024, 1)
    if outputs:
        mixed = {"connections": {"others": int(mixed_connections)}}
        for item in outputs:
            name, path = item.split("=", 1)
            with open(path) as f:
                lines = [line for line in f if line.startswith("RESULT ")]
            if not lines:
                sys.exit(f"report.py: no RESULT line in {path}")
            mixed[name] = json.loads(lines[-1][len("RESULT "):])
        mixed["connections"]["token"] = data.get("connections")
        data["mixed"] = mixed
    with open(out_json, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    print(f"peak RSS (VmHWM) {data['peak_rss_mib']} MiB")
    for name, m in data.get("mixed", {}).items():
        if name != "connections":
            print(f"mixed: {name:18s} {m['rps']:9.1f} req/s  p50 {m['p50_ms']:8.1f} ms  "
                  f"p99 {m['p99_ms']:8.1f} ms  non-2xx {m['non_2xx']}")


def raw(out_json, paths):
    with open(out_json) as f:
        data = json.load(f)
    data["raw"] = {}
    for path in paths:
        with open(path) as f:
            r = json.load(f)
        data["raw"][r["scenario"]] = r
        served = data["scenarios"].get(r["scenario"], {}).get("rps")
        share = f"; campus served {served / r['requests_per_sec']:.0%} of it" if served else ""
        print(f"raw {r['scenario']}: {r['requests_per_sec']:,.1f} req/s "
              f"({r['statements_per_request']} statements, pool {r['pool_size']}){share}")
    with open(out_json, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def peak(data):
    rss = [m.get("max_rss_mib", 0) for m in data.get("memory", {}).values()]
    pss = [m.get("max_pss_mib", 0) for m in data.get("memory", {}).values()]
    return (max(rss) if rss else None), (max(pss) if pss else None)


def fmt(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


def compare(peer_json, campus_json):
    with open(peer_json) as f:
        peer = json.load(f)
    with open(campus_json) as f:
        campus = json.load(f)
    print(f"N = {campus['students']} students, {campus['connections']} connections, "
          f"{campus['threads']} wrk threads, {campus['duration_s']} s per scenario\n")
    print("| scenario | peer req/s | campus req/s | campus ÷ peer | peer p50 / p99 ms "
          "| campus p50 / p99 ms | non-2xx peer / campus | target (issue 11) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, c in campus["scenarios"].items():
        p = peer["scenarios"].get(name)
        ratio = c["rps"] / p["rps"] if p and p["rps"] else None
        target = "—"
        if name in TARGETS:
            need, ceiling = TARGETS[name]
            met = (ratio is not None and ratio >= need and c["p99_ms"] < ceiling
                   and c["non_2xx"] == 0)
            target = f"≥ {need}×, p99 < {ceiling} ms: {'met' if met else 'not met'}"
        exhausted = " (pool exhausted)" if c.get("pool_exhausted") else ""
        print(f"| `{name}` | {fmt(p and p['rps'])} | {fmt(c['rps'])}{exhausted} "
              f"| {fmt(ratio, 1)}× | {fmt(p and p['p50_ms'])} / {fmt(p and p['p99_ms'])} "
              f"| {fmt(c['p50_ms'], 2)} / {fmt(c['p99_ms'], 2)} "
              f"| {p['non_2xx'] if p else '—'} / {c['non_2xx']} | {target} |")
    peer_rss, peer_pss = peak(peer)
    campus_rss, _ = peak(campus)
    print(f"\nPeak RSS during the scenarios (0.5 s samples of the process tree): "
          f"peer {fmt(peer_rss)} MiB (PSS {fmt(peer_pss)} MiB; gunicorn master + workers), "
          f"campus {fmt(campus_rss)} MiB (one process; VmHWM over its whole life "
          f"{fmt(campus.get('peak_rss_mib'))} MiB; target < 60 MiB)")
    mixed = campus.get("mixed")
    if mixed:
        conns = mixed.get("connections", {})
        print(f"\nMixed run (campus): `token` with {conns.get('token')} connections, "
              f"`health` and `clearance_detail` with {conns.get('others')} each, at once "
              f"(target: their p99 < 50 ms)\n")
        print("| scenario | req/s | p50 ms | p99 ms | non-2xx |")
        print("|---|---:|---:|---:|---:|")
        for name in ("token", "health", "clearance_detail"):
            if name in mixed:
                m = mixed[name]
                print(f"| `{name}` | {fmt(m['rps'])} | {fmt(m['p50_ms'], 2)} "
                      f"| {fmt(m['p99_ms'], 2)} | {m['non_2xx']} |")

    raws = campus.get("raw")
    if raws:
        print("\nThe limit: the same statements straight through sqlx, no HTTP, "
              "same pool size (`raw_queries`)\n")
        print("| scenario | statements per request | pool | raw req/s | campus req/s | campus ÷ raw |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r in raws.items():
            served = campus["scenarios"].get(name, {}).get("rps")
            share = f"{served / r['requests_per_sec']:.0%}" if served else "—"
            print(f"| `{name}` | {r['statements_per_request']} | {r['pool_size']} "
                  f"| {fmt(r['requests_per_sec'])} | {fmt(served)} | {share} |")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "annotate":
        annotate(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "raw":
        raw(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

"""Walks the original AXIS React frontend against campus (see axis-frontend.sh).

Signs in through the landing page, creates an industry and a client through
the frontend's own forms, opens every page of its router, and records each
API call campus answered. Then compares the calls the frontend's API modules
can make (src/api/*.ts) with the operations of campus's OpenAPI document and
lists those campus does not serve. Writes report.json and one screenshot per
page to --out; exits 1 when a page failed to load or a call answered 5xx.
"""

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = [
    "/dashboard",
    "/clients",
    "/contracts",
    "/persons",
    "/services",
    "/service-providers",
    "/service-assignments",
    "/sessions",
    "/documents",
    "/settings",
    "/settings/industries",
    "/settings/service-categories",
    "/profile",
]

CALL = re.compile(
    r"apiClient\.(get|post|put|patch|delete)(?:<[^>]*>)?\(\s*[`']([^`']+)[`']"
)


def frontend_calls(frontend: Path):
    """(METHOD, /api/path/{x}/) for every literal call in the frontend's source."""
    calls = set()
    for path in (frontend / "src").rglob("*.ts*"):
        for method, url in CALL.findall(path.read_text(errors="replace")):
            url = url.split("?")[0]
            url = re.sub(r"\$\{[^}]+\}", "{}", url)
            calls.add((method.upper(), "/api" + url))
    return sorted(calls)


def served(api: str):
    """(METHOD, /api/path/{}/) for every operation campus documents."""
    with urllib.request.urlopen(f"{api}/api/schema/") as response:
        document = json.load(response)
    ops = set()
    for path, item in document["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                ops.add((method.upper(), re.sub(r"\{[^}]+\}", "{}", path)))
    # Spellings campus serves outside its document (System::aliases).
    ops.add(("POST", "/api/auth/login/"))
    ops.add(("POST", "/api/services/sessions/{}/"))
    return ops


def shows(page, text):
    """Whether `text` appears on the page within a few seconds."""
    try:
        page.wait_for_selector(f"text={text}", timeout=5000)
        return True
    except Exception:  # noqa: BLE001 - Playwright's timeout: it did not appear
        return False


def walk(page, args, calls, pages, out, suffix):
    """Opens every page, noting its calls; a page fails on a 5xx."""
    for path in PAGES:
        before = len(calls)
        page.goto(args.web + path)
        page.wait_for_load_state("networkidle")
        shot = path.strip("/").replace("/", "_") + suffix.replace(" ", "_") + ".png"
        page.screenshot(path=str(out / shot))
        mine = calls[before:]
        broken = [c for c in mine if c["status"] >= 500]
        pages[path + suffix] = "failed" if broken else "ok"
        pages[path + suffix + " calls"] = [f"{c['method']} {c['path']} {c['status']}" for c in mine]


def main():
    parser = argparse.ArgumentParser()
    for name in ("api", "web", "email", "password", "frontend", "out"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    calls, failures, pages = [], [], {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def on_response(response):
            if not response.url.startswith(args.api) or response.request.method == "OPTIONS":
                return
            call = {
                "method": response.request.method,
                "path": response.url[len(args.api):],
                "status": response.status,
            }
            selected = response.request.headers.get("x-client-id")
            if selected:
                call["x_client_id"] = selected
            if response.status >= 400:
                try:
                    call["body"] = response.text()[:300]
                except Exception:  # noqa: BLE001 - a body that cannot be read is still a failure
                    call["body"] = None
            calls.append(call)

        page.on("response", on_response)
        page.goto(args.web + "/")
        page.get_by_role("button", name="Sign In").first.click()
        page.fill("input[type=email]", args.email)
        page.fill("input[type=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard", timeout=15000)
        pages["sign-in"] = "ok"

        # An industry and a client, through the frontend's own forms.
        page.goto(args.web + "/settings/industries")
        page.wait_for_load_state("networkidle")
        page.get_by_role("button", name=re.compile("Add (First )?Industry")).first.click()
        page.wait_for_selector("input[placeholder='e.g., Healthcare']")
        page.fill("input[placeholder='e.g., Healthcare']", "Healthcare")
        with page.expect_response(lambda r: r.url.endswith("/api/industries/") and r.request.method == "POST"):
            page.locator("form button[type=submit], button:has-text('Create'), button:has-text('Save')").first.click()
        page.wait_for_load_state("networkidle")
        pages["create industry"] = "ok" if shows(page, "Healthcare") else "failed"
        page.goto(args.web + "/clients")
        page.wait_for_load_state("networkidle")
        page.get_by_role("button", name="Add Client").click()
        page.wait_for_selector("input[placeholder='Enter client name']")
        page.fill("input[placeholder='Enter client name']", "Acme Holdings")
        page.fill("input[placeholder='client@example.com']", "ops@acme.example")
        with page.expect_response(lambda r: r.url.endswith("/api/clients/") and r.request.method == "POST"):
            page.locator("form button[type=submit]").first.click()
        page.wait_for_load_state("networkidle")
        created = shows(page, "Acme Holdings")
        pages["create client"] = "ok" if created else "failed"
        if created:
            page.locator("text=Acme Holdings").first.click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / "client-detail.png"))
            pages["client detail"] = "ok" if "/clients/" in page.url else "failed"

        # Client selection: the frontend sends the selected client as
        # `X-Client-ID` on every request; walk the pages once without and
        # once with one selected.
        client_id = page.url.rstrip("/").split("/")[-1] if created else None
        walks = [("", None)] + ([(" (client selected)", client_id)] if client_id else [])
        for suffix, selected in walks:
            if selected:
                page.evaluate(f"localStorage.setItem('current_client_id', '{selected}')")
            walk(page, args, calls, pages, out, suffix)
        browser.close()

    failures = [c for c in calls if c["status"] >= 400]
    unserved = [f"{m} {p}" for m, p in frontend_calls(Path(args.frontend)) if (m, p) not in served(args.api)]
    report = {"pages": pages, "failures": failures, "unserved_calls": unserved}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    for name, result in pages.items():
        if not name.endswith(" calls"):
            print(f"  {name}: {result}")
    print(f"  answers >= 400: {len(failures)}")
    for failure in failures:
        print(f"    {failure['method']} {failure['path']} {failure['status']}")
    print(f"  calls the frontend makes that campus does not serve: {len(unserved)}")
    for call in unserved:
        print(f"    {call}")
    print(f"  report: {out / 'report.json'}")
    bad = [n for n, r in pages.items() if r == "failed"] or [c for c in calls if c["status"] >= 500]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

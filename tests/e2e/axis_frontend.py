"""Walks the original AXIS React frontend against campus (see axis-frontend.sh).

Signs in through the landing page, creates an industry and a client through
the frontend's own forms, seeds one row of each part-2 resource through the
API, opens every page of its router (without and with a selected client,
which the frontend sends as `X-Client-ID`), checks each page shows its row,
and records each API call campus answered. A page on which the frontend
itself throws while rendering is reported as a frontend error, apart from
campus's failures. Then compares the calls the frontend's API modules
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


def api_call(api, token, method, path, body=None):
    """One JSON call to campus as the signed-in administrator; its body."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        api + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def seed(api, token, client_id):
    """What the part-2 pages show: a contract, an employee, a counselling
    service, a verified counsellor with a session, a document and a KPI."""
    import datetime

    today = datetime.date.today()
    post = lambda path, body=None: api_call(api, token, "POST", path, body or {})  # noqa: E731
    post("/api/contracts/", {
        "client_id": client_id, "title": "Wellness 2026",
        "start_date": (today - datetime.timedelta(days=30)).isoformat(),
        "end_date": (today + datetime.timedelta(days=335)).isoformat(),
        "billing_amount": "1500.00", "status": "Active",
    })
    person = post("/api/persons/create-employee/", {
        "full_name": "Grace Njeri", "client_id": client_id, "email": "grace@acme.example",
    })
    category = post("/api/services/categories/", {"name": "Counselling"})
    service = post("/api/services/services/", {
        "name": "Individual counselling", "category_id": category["id"],
    })
    provider = post("/api/services/providers/", {"name": "Dr Amani Otieno", "type": "Counselor"})
    post(f"/api/services/providers/{provider['id']}/verify/")
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    post("/api/services/sessions/", {
        "service_id": service["id"], "provider_id": provider["id"],
        "person_id": person["id"], "scheduled_at": when.isoformat(),
    })
    post("/api/documents/", {
        "title": "Service agreement", "type": "contract",
        "url": "https://example.org/agreement.pdf", "client_id": client_id,
    })
    kpi_type = post("/api/kpi-types/", {"name": "Engagement"})
    post("/api/kpis/", {
        "name": "Utilisation rate", "type_id": kpi_type["id"], "unit": "%",
        "unit_type": "Percentage",
    })
    return {
        "/contracts": "Wellness 2026",
        "/persons": "Grace Njeri",
        "/services": "Individual counselling",
        "/service-providers": "Dr Amani Otieno",
        "/sessions": "Grace Njeri",
        "/documents": "Service agreement",
    }


def shows(page, text):
    """Whether `text` appears on the page within a few seconds."""
    try:
        page.wait_for_selector(f"text={text}", timeout=5000)
        return True
    except Exception:  # noqa: BLE001 - Playwright's timeout: it did not appear
        return False


def walk(page, args, calls, pages, out, suffix, expected):
    """Opens every page, noting its calls; a page fails on a 5xx, or when
    it does not show the row seeded for it."""
    for path in PAGES:
        before = len(calls)
        page.goto(args.web + path)
        page.wait_for_load_state("networkidle")
        shot = path.strip("/").replace("/", "_") + suffix.replace(" ", "_") + ".png"
        page.screenshot(path=str(out / shot))
        mine = calls[before:]
        broken = [c for c in mine if c["status"] >= 500]
        # React Router's error page: the frontend threw while rendering
        # what campus answered (every call above answered below 500).
        crashed = page.locator("text=Unexpected Application Error!").count() > 0
        missing = path in expected and not crashed and not shows(page, expected[path])
        if crashed:
            message = page.locator("h3, i, em").first.inner_text() if page.locator("h3, i, em").count() else ""
            pages[path + suffix] = f"frontend error: {message}"
        else:
            pages[path + suffix] = "failed" if broken or missing else "ok"
        if path in expected and not crashed:
            pages[path + suffix] += f" (shows {expected[path]!r})" if not missing else f" (missing {expected[path]!r})"
        page.screenshot(path=str(out / shot))
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
        token = page.evaluate("localStorage.getItem('auth_access_token')")
        expected = seed(args.api, token, client_id) if client_id and token else {}
        pages["seed part-2 rows through the API"] = "ok" if expected else "failed"
        walks = [("", None)] + ([(" (client selected)", client_id)] if client_id else [])
        for suffix, selected in walks:
            if selected:
                page.evaluate(f"localStorage.setItem('current_client_id', '{selected}')")
            walk(page, args, calls, pages, out, suffix, expected)
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
    bad = [n for n, r in pages.items() if isinstance(r, str) and r.startswith("failed")]
    bad += [c for c in calls if c["status"] >= 500]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

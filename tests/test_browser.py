"""End to end: ops staff use the browsable API, and clients Swagger UI, in Debian's Chromium
against the live server.

Each step saves a screenshot to ``artifacts/screenshots/`` at the repository root. The
server keeps the production cookie settings (``Secure`` session and CSRF cookies over plain
HTTP): Chromium stores them for ``http://localhost``, which it counts as a secure origin.
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import Page, Response, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from customers.demo import load_demo_data
from customers.models import Customer
from tests.conftest import LIST_URL
from tokens.issuing import issue

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    # No calls home: the test talks to the live server only.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CSV_HEADER = (
    "id,created_date,modified_date,omnitron_id,email,first_name,last_name,phone_number,"
    "erp_code,channel"
)
CUSTOMERS = 25  # three pages of ten
PASSWORD = "browse-the-oms-2024"
TIMEOUT_MS = 10_000  # a step that hangs fails fast instead of after Playwright's 30 s

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium not installed: apt-get install -y chromium"
)


@dataclass
class Staff:
    username: str
    password: str


@pytest.fixture
def staff(transactional_db: None) -> Staff:
    """A staff member with a password and read access to customers.

    ``transactional_db``, not ``db``: the live server thread has its own connection and
    would not see rows inside the test's uncommitted transaction.
    """
    user = User.objects.create_user("ops", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return Staff(user.username, PASSWORD)


@pytest.fixture
def key(staff: Staff) -> str:
    """A token of the staff member's; ask for it before ``page`` (see there)."""
    _, key = issue(User.objects.get(username=staff.username))
    return key


@pytest.fixture
def customers(transactional_db: None) -> list[Customer]:
    """The demo customers by id, read before the browser starts (see ``page``)."""
    load_demo_data(CUSTOMERS)
    return list(Customer.objects.order_by("id"))


@pytest.fixture
def page(live_server: LiveServer, staff: Staff, customers: list[Customer]) -> Iterator[Page]:
    """A fresh headless Chromium page, closed before the database is flushed.

    Playwright's sync API keeps its asyncio loop running in a greenlet of this thread,
    so Django would refuse ORM calls here ("SynchronousOnlyOperation") while the browser
    is open. Depending on the data fixtures makes them run before it starts, and tear
    down (flush the database) after it is closed; the tests use the ORM objects read up
    front only.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context.new_page()
        browser.close()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save ``<name>.png``; the whole page unless it is about a menu or dialog on top."""
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


def log_in(page: Page, live_server: LiveServer, staff: Staff) -> list[Response]:
    """Log in through DRF's login form; return the static file responses of the list page."""
    page.goto(f"{live_server.url}/api-auth/login/?next={LIST_URL}")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", staff.password)
    screenshot(page, "01-login-form")
    static: list[Response] = []
    page.on("response", lambda r: static.append(r) if "/static/" in r.url else None)
    with page.expect_navigation():
        page.click("#submit-id-submit")
    page.wait_for_load_state("load")  # stylesheets and scripts too
    return static


def shown_body(page: Page) -> dict[str, Any]:
    """The JSON body the browsable API shows, without its status line and headers."""
    text = page.locator(".response-info pre").evaluate(
        """pre => Array.from(pre.childNodes)
            .filter(node => !(node.classList && node.classList.contains('meta')))
            .map(node => node.textContent).join('')"""
    )
    return json.loads(text)


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(row["id"]) for row in rows]


def test_staff_logs_in_and_lands_on_the_list(
    page: Page, live_server: LiveServer, staff: Staff, customers: list[Customer]
) -> None:
    static = log_in(page, live_server, staff)

    assert page.url == f"{live_server.url}{LIST_URL}"
    assert page.locator(".page-header h1").inner_text() == "Customer List Simple"
    assert staff.username in page.locator(".navbar").inner_text()  # the session user
    body = shown_body(page)
    assert body["count"] == CUSTOMERS
    assert ids(body["results"]) == [c.id for c in customers[:10]]
    # Bootstrap's CSS and scripts are served, so the page is styled and its menus work.
    assert {urlsplit(r.url).path.rsplit("/", 1)[-1] for r in static} >= {
        "bootstrap.min.css",
        "default.css",
        "jquery-3.7.1.min.js",
        "bootstrap.min.js",
    }
    # 304: the login page already fetched it and the browser revalidated its copy.
    assert all(r.status in (200, 304) for r in static), [(r.url, r.status) for r in static]
    screenshot(page, "02-list")


def test_filters_form_narrows_the_list(
    page: Page, live_server: LiveServer, staff: Staff, customers: list[Customer]
) -> None:
    log_in(page, live_server, staff)
    expected = [c.id for c in customers if c.first_name == "Emre"]
    assert len(expected) > 1  # several matches, among other first names

    page.get_by_role("button", name="Filters").click()
    modal = page.locator("#filtersModal")
    expect(modal).to_have_css("opacity", "1")  # Bootstrap's fade-in has finished
    modal.locator("#id_first_name").fill("Emre")
    screenshot(page, "03-filters-form", full_page=False)
    with page.expect_navigation():
        # By CSS: the modal keeps aria-hidden="true", which hides it from role queries.
        modal.locator("button[type=submit]").click()

    assert query(page)["first_name"] == ["Emre"]
    body = shown_body(page)
    assert body["count"] == len(expected)
    assert ids(body["results"]) == expected
    assert {row["first_name"] for row in body["results"]} == {"Emre"}
    screenshot(page, "04-filtered")


def test_next_link_opens_page_two(
    page: Page, live_server: LiveServer, staff: Staff, customers: list[Customer]
) -> None:
    log_in(page, live_server, staff)
    next_url = shown_body(page)["next"]
    assert next_url == f"{live_server.url}{LIST_URL}?page=2"

    # urlize turns the "next" URL of the shown JSON into a link (as it does the one of the
    # Link header shown above the body).
    with page.expect_navigation():
        page.locator(".response-info a", has_text=next_url).last.click()

    assert query(page)["page"] == ["2"]
    body = shown_body(page)
    assert body["count"] == CUSTOMERS
    assert ids(body["results"]) == [c.id for c in customers[10:20]]
    assert body["previous"] == f"{live_server.url}{LIST_URL}"
    assert page.locator(".pagination li.active").inner_text() == "2"
    screenshot(page, "05-page-2")


def test_format_menu_downloads_the_page_as_csv(
    page: Page, live_server: LiveServer, staff: Staff, customers: list[Customer], tmp_path: Path
) -> None:
    log_in(page, live_server, staff)
    page.goto(f"{live_server.url}{LIST_URL}?page=2")
    shown = shown_body(page)["results"]

    # The caret next to GET opens the format menu (its title is moved into a tooltip).
    page.locator(".format-selection .dropdown-toggle").click()
    csv_option = page.locator("a.format-option", has_text="csv")
    expect(csv_option).to_be_visible()
    screenshot(page, "06-format-menu", full_page=False)
    with page.expect_download() as download_info:
        csv_option.click()
    download = download_info.value
    assert download.suggested_filename == "customers.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == CSV_HEADER
    rows = list(csv.DictReader(text.splitlines()))
    assert ids(rows) == ids(shown) == [c.id for c in customers[10:20]]  # page 2's rows
    assert [row["email"] for row in rows] == [row["email"] for row in shown]


def test_swagger_ui_authorizes_with_a_token_pasted_in_the_first_box(
    key: str, page: Page, live_server: LiveServer, customers: list[Customer]
) -> None:
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".btn.authorize").click()
    schemes = page.locator(".dialog-ux .auth-container")
    expect(schemes).to_have_count(2)
    first = schemes.first
    assert first.locator("h4").inner_text().startswith("tokenAuth")
    assert "Paste Token <key>" in first.locator(".renderedMarkdown").inner_text()
    screenshot(page, "07-swagger-authorize", full_page=False)

    first.locator("input").fill(f"Token {key}")
    first.locator("button.authorize").click()
    first.locator(".btn-done").click()
    operation = page.locator("#operations-customers-customers_list_simple")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()

    status = operation.locator(".live-responses-table .response .response-col_status")
    expect(status).to_have_text("200")
    body = json.loads(operation.locator(".live-responses-table .microlight").first.inner_text())
    assert body["count"] == CUSTOMERS
    screenshot(page, "08-swagger-list")

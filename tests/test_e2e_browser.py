"""End to end in a real headless Chromium (Debian's, driven by Playwright) against ``railtrack serve``.

A user writes a license on the generator page, sees the live preview, creates it, and
downloads the Markdown and the PDF, which must be the bytes the API serves; the adoption
dashboard renders its charts; the model page shows a known violation from the sample
store. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from conftest import REPO
from webserver import Server

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "artifacts" / "screenshots"
LLAMA = "meta-llama/Llama-2-7b-chat-hf"
APACHE_CHILD = "armanbabayan/Llama2_Immigration_Low_Chat"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> Path:
    from railtrack.sample import build_sample_store

    return build_sample_store(tmp_path_factory.mktemp("e2e") / "sample.duckdb")


@pytest.fixture(scope="module")
def server(sample_store, tmp_path_factory):
    db = tmp_path_factory.mktemp("e2e-served") / "served.duckdb"
    shutil.copyfile(sample_store, db)
    srv = Server(db, "--rate-limit", "100")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, server, tmp_path):
    context = browser.new_context(accept_downloads=True, base_url=server.url, viewport={"width": 1300, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    # nothing may be fetched from anywhere but the app itself (no CDN: works offline)
    outside: list[str] = []
    pg.on("request", lambda req: outside.append(req.url) if not req.url.startswith(server.url) else None)
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not outside, f"requests outside the app: {outside}"
    # 422s are the answers to invalid input the tests type on purpose; anything else
    # (a CSP violation, a script error, a missing asset) fails the test
    assert not [p for p in problems if "status of 422" not in p], f"console errors: {problems}"


def shot(pg, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def test_user_writes_a_license_previews_and_downloads_it(page, server, tmp_path):
    page.goto("/generator")
    page.fill("#f-name", "Heron-2B")
    page.fill("#f-licensor", "Heron Labs & Friends")
    page.check('input[name="artifacts"][value="data"]')
    page.check('input[name="artifacts"][value="source"]')
    page.check('input[name="restrictions"][value="military.military-use"]')
    page.check('input[name="restrictions"][value="biometrics.remote-identification"]')
    # baseline restrictions are checked and cannot be unticked
    locked = page.locator('input[data-baseline="1"]')
    assert locked.count() >= 10
    assert all(locked.nth(i).is_checked() and locked.nth(i).is_disabled() for i in range(locked.count()))
    page.click("#add-custom")
    page.locator(".custom-row textarea").last.fill("To price insurance policies for individual people.")
    page.locator(".custom-row select").last.select_option("health")
    # the live preview follows the form
    expect(page.locator("#preview-title")).to_have_text("Heron-2B OpenRAIL-DMS")
    expect(page.locator("#preview-text")).to_contain_text("price insurance policies for individual people")
    preview_id = page.inner_text("#preview-id")
    assert preview_id.startswith("rt-")
    page.locator("#f-name").scroll_into_view_if_needed()
    shot(page, "generator", full_page=False)

    page.click("#create")
    page.wait_for_url(f"**/licenses/{preview_id}")
    assert page.inner_text("#license-title") == "Heron-2B OpenRAIL-DMS"
    shot(page, "license")

    for fmt in ("md", "pdf"):
        with page.expect_download() as info:
            page.click(f'#downloads a[data-format="{fmt}"]')
        path = tmp_path / f"download.{fmt}"
        info.value.save_as(path)
        api = httpx.get(f"{server.url}/api/licenses/{preview_id}", params={"format": fmt}, timeout=30)
        assert api.status_code == 200
        assert path.read_bytes() == api.content, fmt
        assert info.value.suggested_filename.startswith("heron-2b-openrail-dms")
    assert (tmp_path / "download.pdf").read_bytes().startswith(b"%PDF")
    md = (tmp_path / "download.md").read_text(encoding="utf-8")
    assert "Heron Labs & Friends" in md or "Heron Labs \\& Friends" in md or "Heron Labs &amp; Friends" in md

    # the copy button puts the model card block on the clipboard
    page.click('button[data-copy-target="card-block"]')
    expect(page.locator('button[data-copy-target="card-block"]')).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.inner_text("#card-block")
    assert "license: other" in copied


def test_generator_shows_validation_errors_inline(page):
    page.goto("/generator")
    page.fill("#f-name", "X")
    page.fill("#f-licensor", "Y")
    for box in page.locator('input[name="artifacts"]:checked').all():
        box.uncheck()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#form-errors")).to_contain_text("at least one artifact")
    page.click("#create")
    assert "/generator" in page.url


def test_model_page_shows_a_known_violation_from_the_sample_store(page):
    page.goto("/models")
    page.fill('input[name="q"]', "Llama2_Immigration_Low_Chat")
    page.press('input[name="q"]', "Enter")
    page.wait_for_url("**/models?q=*")
    page.click(f'#search-results a[href="/models/{APACHE_CHILD}"]')
    page.wait_for_url(f"**/models/{APACHE_CHILD}")
    assert page.inner_text("#own-verdict") == "violation"
    assert "llama2/passthrough" in page.content()
    assert page.inner_text("#declared-license") == "apache-2.0"
    shot(page, "model-child")
    page.click(f'a[href="/models/{LLAMA}"]')
    page.wait_for_url(f"**/models/{LLAMA}")
    row = page.locator("#derivative-table tr", has_text=APACHE_CHILD)
    assert row.count() == 1
    assert row.get_attribute("data-verdict") == "violation"
    row.locator("summary").click()
    assert "apache-2.0" in row.inner_text()
    shot(page, "model-base")


def test_dashboard_renders_its_charts_and_filters_by_date(page, server, tmp_path):
    page.goto("/dashboard")
    for chart in ("adoption", "licenses", "clauses"):
        img = page.locator(f"#chart-{chart}")
        expect(img).to_be_visible()
        loaded = img.evaluate("el => el.complete && el.naturalWidth > 100 && el.naturalHeight > 100")
        assert loaded, f"{chart} chart did not render"
    total = int(page.inner_text("#stat-models").replace(",", ""))
    assert total > 100
    assert page.locator("#licenses-top tr", has_text="llama2").count() == 1
    shot(page, "dashboard")
    # the CSV behind the adoption chart downloads and matches the API
    with page.expect_download() as info:
        page.click('a[href^="/api/reports/adoption.csv"]:not([href*="table="])')
    path = tmp_path / "adoption.csv"
    info.value.save_as(path)
    assert path.read_bytes() == httpx.get(f"{server.url}/api/reports/adoption.csv", timeout=30).content
    assert path.read_text().splitlines()[0].startswith("month,models,behavioral_use,share")
    # a date range narrows the numbers
    page.fill("#since", "2024-01-01")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**/dashboard?since=2024-01-01*")
    assert int(page.inner_text("#stat-models").replace(",", "")) < total
    assert "since=2024-01-01" in page.get_attribute("#chart-adoption", "src")


def test_text_check_page_gives_the_watermark_verdict(browser, sample_store, tmp_path_factory):
    from webserver import human_text, make_key, make_word_tokenizer, watermarked_text

    folder = tmp_path_factory.mktemp("e2e-check")
    tokenizer = make_word_tokenizer(folder / "tokenizer")
    key = make_key(folder / "key.json")
    db = folder / "served.duckdb"
    shutil.copyfile(sample_store, db)
    srv = Server(db, "--watermark-key", str(key), "--tokenizer", str(tokenizer))
    try:
        context = browser.new_context(base_url=srv.url, viewport={"width": 1300, "height": 900})
        pg = context.new_page()
        pg.goto("/")
        pg.click('nav a[href="/check"]')
        pg.fill("#text", watermarked_text(key, tokenizer))
        pg.click("#check")
        expect(pg.locator("#verdict")).to_have_text("watermarked")
        assert pg.locator("#token-view .token-green").count() >= 100
        shot(pg, "check")
        pg.fill("#text", human_text())
        pg.click("#check")
        expect(pg.locator("#verdict")).to_have_text("not watermarked")
        context.close()
    finally:
        srv.stop()


def test_generator_works_without_javascript(browser, server):
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    pg = context.new_page()
    try:
        pg.goto("/generator")
        pg.fill("#f-name", "NoScript-1B")
        pg.fill("#f-licensor", "Plain Forms Ltd")
        pg.check('input[name="flavor"][value="research"]')
        pg.check('input[name="restrictions"][value="weapons.weapons-development"]')
        pg.click("#create")
        pg.wait_for_url("**/licenses/rt-*")
        assert pg.inner_text("#license-title") == "NoScript-1B RESEARCH-ONLY RAIL-M"
        assert "Weapons development" in pg.content()
    finally:
        context.close()

"""The web interface in a real headless browser (Debian's Chromium through Playwright) against a
real API process and the stack: the gallery filters by a style facet, an image's page shows its
probabilities, everything is reachable by keyboard, and no asset comes from elsewhere. The tests
save 1280×800 screenshots of each page to docs/screenshots/ (linked from the README)."""

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from core.settings import Settings
from core.styles import STYLES
from db.models import Scope
from producer.apikeys import issue_key
from tests.factories import CHAMPION
from tests.processes import STYLECAT, Process, api_answers, serving, wait_for
from tests.web import seeded_catalogue, served_history

SCREENSHOTS = Path(__file__).parent.parent / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, test_environment: Settings) -> Iterator[str]:
    with serving(["api"], tmp_path_factory.mktemp("web") / "api.log", api_answers) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, base: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(base) else None)
    yield page
    context.close()
    assert outside == [], f"requests left the API: {outside}"


@pytest.fixture
def catalogue(settings: Settings, clean_tables: None) -> dict[int, str]:
    return seeded_catalogue(settings)


ALL_LOADED = "[...document.images].every(image => image.complete)"


def _screenshot(page: Page, name: str) -> None:
    page.wait_for_function(ALL_LOADED)
    page.screenshot(path=SCREENSHOTS / name)


def _tile_styles(page: Page) -> list[str]:
    return page.locator("#grid .tile").evaluate_all("tiles => tiles.map(t => t.dataset.style)")


def test_the_gallery_filters_by_a_style_facet(page: Page, catalogue: dict[int, str]) -> None:
    page.goto("/")
    expect(page.locator("#total")).to_have_text("16 images")
    assert sorted(_tile_styles(page)) == sorted(catalogue.values())
    _screenshot(page, "gallery.png")

    page.get_by_role("checkbox", name=re.compile("^3d")).check()  # the form applies itself
    page.wait_for_url(re.compile(r"style=3d"))
    expect(page.locator("#total")).to_have_text("4 images")
    assert _tile_styles(page) == ["3d"] * 4
    expect(page.locator('.count[data-style="flat"]')).to_have_text("4")  # other facets stay countable

    page.get_by_role("checkbox", name=re.compile("^line_art")).check()  # several styles at once
    page.wait_for_url(re.compile(r"style=3d&style=line_art"))
    assert sorted(_tile_styles(page)) == ["3d"] * 4 + ["line_art"] * 4
    _screenshot(page, "gallery-filtered.png")

    page.reload()  # the URL holds the state: a filtered view can be shared
    expect(page.get_by_role("checkbox", name=re.compile("^3d"))).to_be_checked()
    assert len(_tile_styles(page)) == 8


def test_every_thumbnail_loads_and_has_alt_text(page: Page, catalogue: dict[int, str]) -> None:
    page.goto("/")
    images = page.locator("#grid img")
    expect(images).to_have_count(16)
    page.wait_for_function(ALL_LOADED)
    for size, alt in images.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.alt])"):
        assert size > 0 and alt.strip()


def test_an_image_page_shows_its_probabilities(page: Page, catalogue: dict[int, str]) -> None:
    page.goto("/?style=hand_drawn")
    page.locator("#grid a").first.click()
    page.wait_for_url(re.compile(r"/ui/images/\d+$"))
    image_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#style")).to_have_text(catalogue[image_id])
    rows = page.locator("#probs tr")
    expect(rows).to_have_count(4)
    values = {row.get_attribute("data-style"): float(row.locator(".value").inner_text()) for row in rows.all()}
    assert max(values, key=lambda name: values[name]) == catalogue[image_id]
    assert abs(sum(values.values()) - 1) < 0.01
    expect(page.locator("#predictions tbody tr")).to_have_count(1)
    expect(page.locator("#status")).to_have_text("categorized")
    _screenshot(page, "image.png")


def test_the_filters_work_from_the_keyboard(page: Page, catalogue: dict[int, str]) -> None:
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator(".skip")).to_be_focused()
    search_box = page.get_by_placeholder("Search titles")
    search_box.focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name=re.compile("^3d"))).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # the second facet: flat
    page.wait_for_url(re.compile(r"style=flat"))
    assert _tile_styles(page) == ["flat"] * 4
    search_box = page.get_by_placeholder("Search titles")
    search_box.fill("sample 1")
    search_box.press("Enter")
    page.wait_for_url(re.compile(r"q=sample"))
    expect(page.locator("#total")).not_to_have_text("4 images")


@pytest.fixture(scope="module")
def indexer(tmp_path_factory: pytest.TempPathFactory, test_environment: Settings) -> Iterator[Process]:
    """A real worker on the index queue: reviews reach search as they do in production."""
    worker = Process(
        ["worker", "--queues", "index", "--concurrency", "1"], tmp_path_factory.mktemp("indexer") / "worker.log"
    )
    yield worker
    worker.stop()


def _start_reviewing(page: Page, key: str) -> None:
    page.goto("/ui/review")
    page.fill("#key", key)
    page.fill("#reviewer", "kim")
    page.get_by_role("button", name="Start reviewing").click()


def test_the_review_page_refuses_without_a_review_key(page: Page, catalogue: dict[int, str]) -> None:
    page.goto("/ui/review")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#panel")).to_be_hidden()
    _start_reviewing(page, "sck_" + "x" * 40)
    expect(page.locator("#message")).to_have_text("That key was refused: it is unknown or revoked.")
    expect(page.locator("#panel")).to_be_hidden()
    _start_reviewing(page, issue_key("web uploader", [Scope.UPLOAD]))
    expect(page.locator("#message")).to_have_text("That key has no review scope.")
    expect(page.locator("#panel")).to_be_hidden()


def test_five_reviews_from_the_keyboard_reach_the_gallery_and_search(
    page: Page, base: str, catalogue: dict[int, str], indexer: Process
) -> None:
    _start_reviewing(page, issue_key("web reviewer", [Scope.REVIEW]))
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    _screenshot(page, "review.png")
    decided: dict[int, str] = {}
    seconds = []
    for key, style in (("1", "3d"), ("2", "flat"), ("3", "hand_drawn"), ("4", "line_art"), ("Enter", None)):
        image_id = int(panel.get_attribute("data-id") or 0)
        decided[image_id] = style or page.locator("#predicted").inner_text()
        started = time.monotonic()
        page.keyboard.press(key)
        expect(panel).not_to_have_attribute("data-id", str(image_id))
        page.wait_for_function("document.getElementById('picture').complete")
        seconds.append(time.monotonic() - started)
    expect(page.locator("#done")).to_have_text("5 reviewed")
    assert max(seconds) < 1.0, f"a decision took {max(seconds):.2f} s to show the next image"

    def reviewed() -> dict[int, str]:
        hits = httpx.get(f"{base}/search", params={"reviewed": "true", "size": 20}).json()["hits"]
        return {hit["id"]: hit["style"] for hit in hits}

    wait_for(lambda: reviewed() == decided, 60, f"search to show the reviews\n{indexer.tail()}")
    page.goto("/?reviewed=yes")
    expect(page.locator("#total")).to_have_text("5 images")
    assert sorted(_tile_styles(page)) == sorted(decided.values())
    expect(page.locator("#grid .badge.reviewed")).to_have_count(5)


def test_the_models_page_shows_versions_and_drift(page: Page, catalogue: dict[int, str]) -> None:
    subprocess.run([*STYLECAT, "model", "bootstrap"], check=True, capture_output=True)
    now = datetime.now(UTC)
    for days in range(10, 0, -1):  # a balanced history since version 2's first day, then a day of flat
        served_history(list(STYLES) * 15, now - timedelta(days=days))
    served_history(["flat"] * 120, now)
    page.goto("/ui/models")
    expect(page.locator(f'#versions tr[data-version="{CHAMPION}"]')).to_contain_text("champion")
    expect(page.locator('#versions tr[data-version="1"]')).to_contain_text("shipped v1-synthetic")
    expect(page.locator("#challenger")).to_contain_text("none (alias challenger unset)")
    expect(page.locator("#drift-state")).to_contain_text("Drift alert: style mix")
    assert page.locator("#drift-chart rect.share").count() >= 4 * 10 + 1  # four styles a day, then flat alone
    assert page.locator("#drift-chart rect.alert-band").count() == 1
    assert page.locator("#drift-chart polyline.confidence").count() == 1
    _screenshot(page, "models.png")

    page.get_by_label("Window", exact=True).select_option("1h")
    page.get_by_role("button", name="Show").press("Enter")  # reachable and usable from the keyboard
    page.wait_for_url(re.compile(r"window=1h"))
    expect(page.locator("#drift-state")).to_contain_text("Drift alert")

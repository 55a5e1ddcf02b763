"""The web interface in a real headless browser (Debian's Chromium through Playwright) against a
real API process and the stack: the gallery filters by a style facet, an image's page shows its
probabilities, everything is reachable by keyboard, and no asset comes from elsewhere. The tests
save 1280×800 screenshots of each page to docs/screenshots/ (linked from the README)."""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from core.settings import Settings
from tests.processes import api_answers, serving
from tests.web import seeded_catalogue

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

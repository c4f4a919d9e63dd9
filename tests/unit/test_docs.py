"""The docs document every setting with its current default, and their links lead somewhere."""

from __future__ import annotations

import re

import pytest

from components.settings.docs import outputs, outputs_table, settings_table
from tests.conftest import ROOT

SETTINGS_PAGE = ROOT / "docs" / "settings.md"
OUTPUTS_PAGE = ROOT / "docs" / "deploy.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page) -> set[str]:
    """GitHub's heading ids: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_settings_page_table_matches_the_settings():
    assert generated(SETTINGS_PAGE, "settings") == settings_table(), (
        "run `python -m components.settings.docs` and paste into docs/settings.md")


def generated(page, table: str) -> str:
    text = page.read_text()
    start = text.index("\n", text.index(f"<!-- {table}-table:start")) + 1
    return text[start:text.index(f"<!-- {table}-table:end -->")]


def test_the_outputs_table_matches_the_components_outputs():
    assert generated(OUTPUTS_PAGE, "outputs") == outputs_table(), (
        "run `python -m components.settings.docs outputs` and paste into docs/deploy.md")


def test_the_outputs_read_for_the_docs_are_the_ones_the_component_registers():
    from components.image_pipeline import ImagePipeline

    assert [name for name, _ in outputs()] == ImagePipeline.output_names()
    assert all(doc for _, doc in outputs())


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT)}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_no_page_cites_an_issue_number_a_reader_cannot_look_up(page):
    assert re.findall(r".{0,30}\b[Ii]ssues? \d+.{0,30}", page.read_text()) == []


LAYERED = ("contract", "handlers", "components", "local", "tools", "provider", "bench")


def packages() -> list[str]:
    """Every package folder of the layers, as `folder/` (`handlers/image/`, `components/settings/`, ...)."""
    return sorted(path.parent.relative_to(ROOT).as_posix() + "/" for top in LAYERED
                  for path in (ROOT / top).rglob("__init__.py") if "__pycache__" not in path.parts)


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("## Architecture"):readme.index("## Documentation")]


@pytest.mark.parametrize("page", ["README.md", "docs/architecture.md"])
def test_the_layout_docs_name_every_package_of_the_tree(page):
    text = layout_section() if page == "README.md" else (ROOT / page).read_text()
    missing = [folder for folder in packages() if f"`{folder}" not in text]
    assert missing == [], f"{page} does not describe {missing}"


@pytest.mark.parametrize("page", ["README.md", "docs/architecture.md"])
def test_every_path_the_layout_docs_name_exists(page):
    text = layout_section() if page == "README.md" else (ROOT / page).read_text()
    named = set(re.findall(r"`((?:contract|handlers|components|local|tools|provider|bench|tests)/[\w/.]*)`", text))
    absent = sorted(path for path in named  # a folder, a file, or a module named without `.py`
                    if not (ROOT / path).exists() and not (ROOT / f"{path}.py").exists())
    assert absent == [], f"{page} names paths that do not exist: {absent}"

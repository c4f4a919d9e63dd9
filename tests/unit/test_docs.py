"""The README documents every setting with its current default."""

from __future__ import annotations

from components.docs import settings_table
from tests.conftest import ROOT


def test_readme_settings_table_matches_the_settings():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n", readme.index("<!-- settings-table:start")) + 1
    end = readme.index("<!-- settings-table:end -->")
    assert readme[start:end] == settings_table(), "run `python -m components.docs` and paste into README.md"

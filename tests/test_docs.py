"""The user documentation: README length, links that resolve, no internal milestone labels, the version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")]
    + [
        p
        for p in (ROOT / "configs" / "README.md", ROOT / "experiments" / "README.md")
        if p.is_file()
    ]
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
MILESTONE = re.compile(r"stop [0-9]+", re.IGNORECASE)  # the same as `git grep -i -E "stop [0-9]+"`


def _strip_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return re.sub(r"`[^`\n]*`", "", _strip_fences(text))


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    out = set()
    for line in _strip_fences(page.read_text(encoding="utf-8")).splitlines():
        if m := re.match(r"#{1,6}\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= 300, f"README.md has {n} lines (at most 300)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    broken = []
    for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert broken == [], f"{page.relative_to(ROOT)}: links that do not resolve: {broken}"


def _project_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_internal_milestone_labels_in_the_project():
    hits = []
    for path in _project_files():
        if not path.is_file():  # deleted in the working tree
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (weights, images)
            continue
        text = data.decode("utf-8", errors="replace")
        for i, line in enumerate(text.splitlines(), 1):
            if MILESTONE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:100]}")
    assert hits == [], "internal milestone labels:\n" + "\n".join(hits)


def test_the_package_version_is_one():
    import tessetrack

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == tessetrack.__version__
    assert f"## {tessetrack.__version__}" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "experiments" / "configs").glob("*.yaml")), ids=lambda p: p.name
)
def test_experiment_configs_still_load(path: Path):
    from tessetrack.config import load_config

    load_config(path)


def test_every_config_recipe_is_listed():
    import yaml

    index = (ROOT / "configs" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in (ROOT / "configs").glob("*.yaml") if f"({p.name})" not in index]
    assert missing == []
    # a recipe with stages is listed with the one command that makes its model
    recipes = [
        p.stem
        for p in (ROOT / "configs").glob("*.yaml")
        if "stages" in (yaml.safe_load(p.read_text(encoding="utf-8")) or {})
    ]
    assert recipes and [r for r in recipes if f"scripts/train_shipped.sh {r}`" not in index] == []
    index = (ROOT / "experiments" / "README.md").read_text(encoding="utf-8")
    missing = [
        p.name
        for p in (ROOT / "experiments" / "configs").glob("*.yaml")
        if f"(configs/{p.name})" not in index
    ]
    assert missing == []

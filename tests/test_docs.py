"""The documentation: generated settings tables match `--about`, links resolve, the root
README stays an overview."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from scripts import settings_tables
from scripts.settings_tables import PLUGINS, REGENERATE, Plugin

ROOT = settings_tables.ROOT
MARKDOWN = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *(plugin.readme for plugin in PLUGINS)]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda plugin: plugin.command)
def test_the_readme_settings_tables_are_what_about_prints(plugin: Plugin):
    expected, current = settings_tables.expected_and_current(plugin)
    assert current == expected, (
        f"{plugin.readme.relative_to(ROOT)}: the settings tables differ from "
        f"`{plugin.command} --about --format=markdown`; regenerate them with: {REGENERATE}"
    )


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda plugin: plugin.command)
def test_every_setting_is_in_the_readme(plugin: Plugin):
    # Independent of the generator: each setting name of --about appears as a table row.
    about = settings_tables.about_markdown(plugin.command)
    names = re.findall(r"(?m)^\| ([a-z_][\w.]*) \| (?:True|False) \|", about)
    assert "batch_size_rows" in names or "access_token" in names
    readme = plugin.readme.read_text()
    assert [name for name in names if f"\n| {name} | " not in readme] == []


def test_regenerating_replaces_only_the_part_between_the_markers():
    readme = f"# x\n\nbefore\n\n{settings_tables.START}\nold\n{settings_tables.END}\n\nafter\n"
    rewritten = settings_tables.with_section(readme, "### Settings\n\n| a |\n")
    assert rewritten.startswith("# x\n\nbefore\n\n")
    assert rewritten.endswith(f"{settings_tables.END}\n\nafter\n")
    assert settings_tables.current_section(rewritten, Path("x")) == "### Settings\n\n| a |\n"
    with pytest.raises(settings_tables.MarkersMissingError):
        settings_tables.current_section("# no markers\n", Path("x"))


def test_the_generated_section_holds_capabilities_and_settings_only():
    about = (
        "# `tap-x`\n\nWhat it is.\n\n## Capabilities\n\n- `catalog`\n\n"
        "## Supported Python Versions\n\n- 3.11\n\n## Settings\n\n| Setting |\n|:--|\n"
        "| a |\n\nA full list of supported settings and capabilities is available by running\n"
    )
    assert settings_tables.generated_section(about) == (
        "### Capabilities\n\n- `catalog`\n\n### Settings\n\n| Setting |\n|:--|\n| a |\n"
    )


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(document: Path):
    broken = []
    for target in LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (document.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{document.relative_to(ROOT)} links to missing files"


# Pages that belong to a topic rather than being one: linked from that topic's page, not
# from the root README (whose length is capped below).
APPENDICES = {"performance-history.md": "performance.md"}


def test_the_root_readme_links_every_topic_in_docs():
    readme = (ROOT / "README.md").read_text()
    topics = [path.name for path in ROOT.glob("docs/*.md") if path.name not in APPENDICES]
    unlinked = [name for name in topics if f"](docs/{name}" not in readme]
    assert unlinked == [], "add a one-line link to each docs/<topic>.md in README.md"


@pytest.mark.parametrize("appendix", sorted(APPENDICES))
def test_each_appendix_is_linked_from_its_topic(appendix: str):
    topic = APPENDICES[appendix]
    assert (ROOT / "docs" / appendix).exists()
    assert f"]({appendix}" in (ROOT / "docs" / topic).read_text(), f"link {appendix} from {topic}"


def test_the_root_readme_stays_an_overview():
    size = len((ROOT / "README.md").read_text())
    assert size <= 12_000, (
        f"README.md is {size} characters; details belong in docs/<topic>.md or a plugin's "
        "README, with a one-line link"
    )


def _repository_url(plugin: Plugin) -> str:
    project = tomllib.loads((plugin.readme.parent / "pyproject.toml").read_text())["project"]
    return str(project["urls"]["Repository"]).rstrip("/")


def test_both_plugins_name_the_same_repository():
    assert len({_repository_url(plugin) for plugin in PLUGINS}) == 1


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda plugin: plugin.command)
def test_plugin_readme_links_work_on_the_package_registry_page(plugin: Plugin):
    """The README is the distribution's page on the package registry, where only files
    inside the package exist: a link out of it must be absolute, and one into the
    repository (`<Repository>/blob/main/<path>`) must name a file that exists here."""
    package = plugin.readme.parent.resolve()
    repository = f"{_repository_url(plugin)}/blob/main/"
    outside, missing = [], []
    for target in LINK.findall(plugin.readme.read_text()):
        path = target.split("#", 1)[0]
        if target.startswith(repository):
            if not (ROOT / path.removeprefix(repository)).exists():
                missing.append(target)
        elif (
            path
            and not re.match(r"[a-z]+:", target)
            and not (plugin.readme.parent / path).resolve().is_relative_to(package)
        ):
            outside.append(target)
    assert outside == [], f"{plugin.readme.relative_to(ROOT)}: use {repository}<path>"
    assert missing == [], f"{plugin.readme.relative_to(ROOT)} links to missing files"


# The code map in docs/development.md: a `### <folder>` heading per package, a line per module.
CODE_MAP_FOLDERS = [
    "tap-intercom/tap_intercom",
    "target-snowflake/target_snowflake",
    "testbed/testbed",
    "bench",
    "scripts",
]


def _code_map_sections() -> dict[str, str]:
    text = (ROOT / "docs" / "development.md").read_text()
    code_map = text.split("\n## Where the code is\n", 1)[1].split("\n## ", 1)[0]
    sections = {}
    for section in code_map.split("\n### ")[1:]:
        heading, _, body = section.partition("\n")
        sections[heading.split()[0].rstrip("/")] = body
    return sections


def _holds_code(module: Path) -> bool:
    """False for a package's `__init__.py` that is only a docstring: not worth a line."""
    body = ast.parse(module.read_text()).body
    return module.name != "__init__.py" or any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body
    )


@pytest.mark.parametrize("folder", CODE_MAP_FOLDERS)
def test_the_code_map_names_every_module_and_only_modules_on_disk(folder: str):
    body = _code_map_sections()[folder]
    modules = {
        path.relative_to(ROOT / folder).as_posix(): path for path in (ROOT / folder).rglob("*.py")
    }
    named = set(re.findall(r"`([\w/]+\.py)`", body))
    missing = sorted(
        name for name, path in modules.items() if _holds_code(path) and name not in named
    )
    assert missing == [], f"docs/development.md: add these to `### {folder}/`"
    # A path from the repository's root (`scripts/x.py`) is a cross-reference, not a line.
    gone = sorted(name for name in named - set(modules) if not (ROOT / name).exists())
    assert gone == [], f"docs/development.md: `### {folder}/` names modules not on disk"

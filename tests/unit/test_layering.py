"""The packages' layering, read from the source with ``ast`` (nothing is imported).

Each rule names who may not import what; a violation fails with the file, the line and the
rule. Imports under ``if TYPE_CHECKING:`` do not count (they never run); imports inside
functions do (they run, just later, and still tie the packages together).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
PACKAGES: Final = ("config", "dashboard", "incidents", "ingest", "maps", "sitroom", "video")
"""The first-party packages; ``tests``, ``bench``, ``scripts`` and ``fuzz`` may import anything."""


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's edge from a module to the module it loads."""

    source: str
    """Dotted name of the importing module."""
    path: str
    """The importing file, relative to the repository root."""
    line: int
    """Line of the import statement."""
    target: str
    """Dotted name of the imported module (``from x import y`` loads ``x.y`` or else ``x``)."""

    def where(self) -> str:
        """``path:line`` for failure messages."""
        return f"{self.path}:{self.line}"


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a source file (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the packages under ``root``, by dotted name."""
    return {module_name(path, root): path
            for package in packages for path in sorted((root / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _statements(body: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run, at any depth, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _statements(node.orelse)
        else:
            yield from _statements(ast.iter_child_nodes(node))


def _absolute(module: str | None, level: int, source: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names, resolving leading dots against ``source``."""
    if level == 0:
        return module or ""
    package = source.split(".")
    # A package's ``__init__`` is its own anchor; a plain module's is its parent package.
    anchor = package if is_package else package[:-1]
    base = anchor[: len(anchor) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(path: Path, root: Path, known: Iterable[str]) -> list[Import]:
    """The imports of one file, as edges to the modules they load."""
    modules = set(known)
    source = module_name(path, root)
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    found: list[Import] = []
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found.extend(Import(source, rel, node.lineno, alias.name) for alias in node.names)
            continue
        base = _absolute(node.module, node.level, source, path.name == "__init__.py")
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.append(Import(source, rel, node.lineno,
                                submodule if submodule in modules else base))
    return found


def all_imports(root: Path = ROOT) -> list[Import]:
    """Every import of the first-party packages."""
    files = source_files(root, PACKAGES)
    return [edge for path in files.values() for edge in imports_of(path, root, files)]


def _matches(target: str, pattern: str) -> bool:
    """Whether ``target`` is ``pattern`` or inside it; ``dash*`` matches any top level dash…"""
    if pattern.endswith("*"):
        return target.split(".")[0].startswith(pattern[:-1])
    return target == pattern or target.startswith(pattern + ".")


@dataclass(frozen=True, slots=True)
class Rule:
    """Modules matching ``applies`` may import nothing matching ``forbidden``."""

    name: str
    """What the rule protects, shown on failure."""
    applies: Callable[[str], bool]
    """Which importing modules the rule binds."""
    forbidden: tuple[str, ...]
    """Module patterns those modules may not import."""

    def violations(self, edges: Iterable[Import]) -> list[str]:
        """One ``path:line: source imports target`` line per offending import."""
        lines = (f"{edge.where()}: {edge.source} imports {edge.target} (rule: {self.name})"
                 for edge in edges if self.applies(edge.source)
                 and any(_matches(edge.target, pattern) for pattern in self.forbidden))
        return list(dict.fromkeys(lines))  # ``from x import a, b`` is one offence, not two


def _inside(*packages: str) -> Callable[[str], bool]:
    """A predicate: the module is one of ``packages`` or inside one."""
    return lambda module: any(_matches(module, package) for package in packages)


def _pure_incidents(module: str) -> bool:
    """The domain of ``incidents``: all but its adapters (store, live state, memory ports)."""
    # Reports count as domain: rendering needs fpdf2 and Jinja, never a driver or the store
    # (the briefing gathers their input).
    return (_matches(module, "incidents")
            and not _inside("incidents.store", "incidents.live", "incidents.memory")(module))


_TRANSPORT_SCREEN_MEDIA: Final = ("paho", "amqtt", "aiohttp", "dash*", "flask", "waitress",
                                  "aiortc", "av")
_GIS: Final = ("geopandas", "shapely", "pyproj", "pyogrio", "pandas", "h3")
_DRIVERS: Final = ("asyncpg", "redis")

RULES: Final = (
    Rule("incidents imports no transport, screen, media or GIS code, nor the outer packages",
         _inside("incidents"),
         (*_TRANSPORT_SCREEN_MEDIA, *_GIS, "ingest", "dashboard", "video", "sitroom", "maps")),
    Rule("the domain of incidents imports no driver and no adapter (store, live state)",
         _pure_incidents,
         (*_DRIVERS, "incidents.store", "incidents.live")),
    Rule("maps is pure: no drivers, transport, screen or media, nor adapters",
         _inside("maps"),
         (*_DRIVERS, *_TRANSPORT_SCREEN_MEDIA, "incidents.store", "incidents.live", "ingest",
          "dashboard", "video", "sitroom")),
    Rule("ingest imports neither dashboard nor video, and of maps only the pure analysis (the"
         " rules' fence index); layer files and basemaps stay out of the ingest process",
         _inside("ingest"),
         ("dashboard", "video", "maps.layers", "maps.basemap", "maps.features", "maps.tiles",
          "maps.reporting", "maps.demo", "maps.crs")),
    Rule("video imports neither ingest, dashboard nor maps", _inside("video"),
         ("ingest", "dashboard", "maps")),
    Rule("dashboard imports neither ingest nor video", _inside("dashboard"),
         ("ingest", "video")),
    Rule("only sitroom (the CLI and supervisor, the composition root) imports sitroom",
         lambda module: not _matches(module, "sitroom"), ("sitroom",)),
    Rule("config (settings) imports no other first-party package", _inside("config"),
         ("dashboard", "incidents", "ingest", "maps", "sitroom", "video")),
)


@pytest.fixture(scope="module")
def edges() -> list[Import]:
    """The import graph of the source tree, read once for the module."""
    return all_imports()


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_layering_rule(rule: Rule, edges: list[Import]) -> None:
    """No first-party module imports what its layer forbids."""
    offending = rule.violations(edges)
    assert not offending, "\n" + "\n".join(offending)


def import_cycles(edges: Iterable[Import]) -> list[list[Import]]:
    """One cycle (as its edges) per strongly connected group of first-party modules."""
    first_party = [edge for edge in edges if _inside(*PACKAGES)(edge.target)
                   and edge.target != edge.source]
    graph: dict[str, dict[str, Import]] = {}
    for edge in first_party:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
    cycles: list[list[Import]] = []
    for group in _strongly_connected(graph):
        if len(group) > 1:
            cycles.append(_cycle_through(min(group), group, graph))
    return cycles


def _strongly_connected(graph: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit to hit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, {})))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def _cycle_through(start: str, group: set[str],
                   graph: dict[str, dict[str, Import]]) -> list[Import]:
    """The shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    came_by: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target, edge in sorted(graph.get(node, {}).items()):
                if target not in group or target in came_by:
                    continue
                came_by[target] = edge
                if target == start:
                    path = [edge]
                    while path[0].source != start:
                        path.insert(0, came_by[path[0].source])
                    return path
                following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def test_no_import_cycles(edges: list[Import]) -> None:
    """No first-party module imports, however indirectly, a module that imports it."""
    cycles = import_cycles(edges)
    lines = [" -> ".join([cycle[0].source, *(f"{edge.target} [{edge.where()}]" for edge in cycle)])
             for cycle in cycles]
    assert not lines, "import cycles:\n" + "\n".join(lines)


def _tree(root: Path, files: dict[str, str]) -> list[Import]:
    """Write a small source tree under ``root`` and read its imports as the test reads ours."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    known = source_files(root, {name.split("/")[0] for name in files})
    return [edge for path in known.values() for edge in imports_of(path, root, known)]


def test_the_reader_skips_type_checking_and_counts_deferred_imports(tmp_path: Path) -> None:
    """Imports under TYPE_CHECKING are skipped; ones in functions and relative ones count."""
    edges = _tree(tmp_path, {
        "pkg/__init__.py": "from . import sub\n",
        "pkg/sub.py": "",
        "pkg/mod.py": ("from typing import TYPE_CHECKING\n"
                       "if TYPE_CHECKING:\n    import paho\nelse:\n    import redis\n"
                       "def later() -> None:\n    from .sub import thing\n"
                       "from pkg import sub, name\n"),
    })
    found = {(edge.source, edge.line, edge.target) for edge in edges}
    assert found == {
        ("pkg", 1, "pkg.sub"), ("pkg.mod", 1, "typing"), ("pkg.mod", 5, "redis"),
        ("pkg.mod", 7, "pkg.sub"), ("pkg.mod", 8, "pkg.sub"), ("pkg.mod", 8, "pkg"),
    }


def test_a_rule_names_the_file_line_and_rule(tmp_path: Path) -> None:
    """A forbidden import is reported with where it is and which rule it breaks."""
    edges = _tree(tmp_path, {"pkg/view.py": "import os\n\nimport dash_leaflet.express\n"})
    rule = Rule("pkg shows nothing", _inside("pkg"), ("dash*",))
    assert rule.violations(edges) == [
        "pkg/view.py:3: pkg.view imports dash_leaflet.express (rule: pkg shows nothing)"]


def test_a_cycle_through_a_deferred_import_is_found(tmp_path: Path) -> None:
    """A cycle closed only by an import inside a function is still a cycle."""
    edges = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import f\n",
        "pkg/b.py": "def f() -> None:\n    from pkg import a\n",
        "pkg/c.py": "from pkg import a\n",
    })
    internal = [edge for edge in edges if edge.target.startswith("pkg")]
    graph: dict[str, dict[str, Import]] = {}
    for edge in internal:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
    groups = [group for group in _strongly_connected(graph) if len(group) > 1]
    assert groups == [{"pkg.a", "pkg.b"}]
    cycle = _cycle_through("pkg.a", groups[0], graph)
    assert [(edge.where(), edge.target) for edge in cycle] == [
        ("pkg/a.py:1", "pkg.b"), ("pkg/b.py:2", "pkg.a")]

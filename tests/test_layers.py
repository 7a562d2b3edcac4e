"""The package's layers, in the order its stages pass data (load -> check -> resolve -> render
-> write/validate/review -> commands -> cli): every import, lazy ones included, points to the
module's own layer or one it is allowed to use. The renderers see the resolved model and the
spec's data types, never the checks. A new module must be given a layer here."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "govstack_gen"

# Layer -> module name prefixes (most specific match wins).
LAYERS: dict[str, tuple[str, ...]] = {
    "data": ("govstack_gen", "govstack_gen.errors", "govstack_gen.fsio", "govstack_gen.yaml_io", "govstack_gen.spec",
             "govstack_gen.spec.paths", "govstack_gen.spec.load", "govstack_gen.spec.types", "govstack_gen.spec.model",
             "govstack_gen.spec.semver", "govstack_gen.spec.placeholders"),
    "check": ("govstack_gen.spec.validate", "govstack_gen.spec.versions", "govstack_gen.spec.checks",
              "govstack_gen.spec.storage", "govstack_gen.spec.tenancy", "govstack_gen.spec.requirements",
              "govstack_gen.spec.databases", "govstack_gen.spec.secrets", "govstack_gen.spec.schema",
              "govstack_gen.spec.locate", "govstack_gen.catalog"),
    "resolve": ("govstack_gen.resolve",),
    "render": ("govstack_gen.render",),
    "after": ("govstack_gen.pipeline", "govstack_gen.write_plan", "govstack_gen.writer", "govstack_gen.safety",
              "govstack_gen.sops_files", "govstack_gen.audit", "govstack_gen.review", "govstack_gen.validation",
              "govstack_gen.migrate", "govstack_gen.mirror", "govstack_gen.bom", "govstack_gen.bom_report",
              "govstack_gen.catalog.report", "govstack_gen.graph"),
    "commands": ("govstack_gen.commands",),
    "cli": ("govstack_gen.cli", "govstack_gen.__main__"),
}

ALLOWED: dict[str, set[str]] = {
    "data": {"data"},
    "check": {"data", "check"},
    "resolve": {"data", "check", "resolve"},
    "render": {"data", "resolve", "render"},  # not "check": what render needs, resolve hands over
    "after": {"data", "check", "resolve", "render", "after"},
    "commands": {"data", "check", "resolve", "render", "after", "commands"},
    "cli": {"data", "commands", "cli"},
}


def layer_of(module: str) -> str:
    matches = [(len(prefix), layer) for layer, prefixes in LAYERS.items() for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} has no layer: add it to LAYERS in {Path(__file__).name}"
    return max(matches)[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("govstack_gen"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("govstack_gen")}
    return found


def test_every_import_points_down() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50
    wrong = []
    for path in modules:
        name = module_name(path)
        layer = layer_of(name)
        for target in sorted(imports(path)):
            if layer_of(target) not in ALLOWED[layer]:
                wrong.append(f"{name} ({layer}) imports {target} ({layer_of(target)})")
    assert not wrong, "\n".join(wrong)


def test_the_rule_sees_an_upward_import() -> None:
    """The checker itself: a renderer reaching into a check, or the spec into a renderer, is caught."""
    assert layer_of("govstack_gen.render.storage") == "render" and "check" not in ALLOWED["render"]
    assert layer_of("govstack_gen.spec.storage") == "check" and "render" not in ALLOWED["check"]
    assert layer_of("govstack_gen.catalog.report") == "after" and layer_of("govstack_gen.catalog") == "check"
    assert imports(PACKAGE / "render" / "argo.py") >= {"govstack_gen.resolve"}


def test_the_cli_only_parses() -> None:
    """cli.py parses and maps outcomes to exit codes; the commands' work is in govstack_gen.commands."""
    source = (PACKAGE / "cli.py").read_text()
    assert len(source.splitlines()) < 200
    assert imports(PACKAGE / "cli.py") == {"govstack_gen", "govstack_gen.commands", "govstack_gen.commands.terminal",
                                          "govstack_gen.errors"}
    from govstack_gen.commands import COMMANDS

    modules = {p.stem for p in (PACKAGE / "commands").glob("*.py")}
    assert {c.name for c in COMMANDS} <= modules, "every command in the table has its module"

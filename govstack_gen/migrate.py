"""`govstack-gen migrate`: rewrite a spec, and the entry files of its catalog folders, in a newer
spec version, in place. Only the apiVersion and the renamed keys change (spec/versions.py says
which), so the commit reviews as a few lines and comments stay where the operator put them.

Every file is planned, rewritten in memory and checked (the rewritten text must load as the
conversion says) before any is written; one problem anywhere and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govstack_gen.catalog import catalog_folders, entry_files
from govstack_gen.errors import Diagnostic, SourceLocation, SpecError
from govstack_gen.fsio import replace_file
from govstack_gen.spec.load import SpecDocument, parse_document, read_spec
from govstack_gen.spec.versions import Conversion, apply, describe, plan, rewrite

__all__ = ["FileMigration", "plan_migration", "write_migrations"]


@dataclass(frozen=True)
class FileMigration:
    path: Path
    name: str  # as messages show it
    conversion: Conversion
    text: bytes  # the new content (the old one when nothing is needed)

    @property
    def needed(self) -> bool:
        return self.conversion.needed

    def report(self) -> list[str]:
        head = f"{self.name}: {self.conversion.source} -> {self.conversion.target}"
        return [head, *(f"  {what}" for what in describe(self.conversion))]


def plan_migration(spec: Path, to: str) -> list[FileMigration]:
    """The spec and its catalog entry files, each with its conversion up to `to` (one of
    versions.KNOWN). Raises SpecError with the problems of every file."""
    problems: list[Diagnostic] = []
    spec_doc, migration = _plan_file(spec, spec.name, to, problems)
    found = [migration] if migration else []
    if spec_doc is not None:
        folders, missing = catalog_folders(spec_doc, spec.parent)
        problems += missing
        for folder, display in folders:
            for path in entry_files(folder):
                migration = _plan_file(path, f"{display}/{path.name}", to, problems)[1]
                found += [migration] if migration else []
    if problems:
        raise SpecError(problems)
    return found


def _plan_file(path: Path, name: str, to: str, problems: list[Diagnostic]) -> tuple[SpecDocument | None, FileMigration | None]:
    try:
        raw = read_spec(path, name)
        doc = parse_document(raw, name)
        conversion = plan(doc, to)
        if conversion is None:
            problems.append(_not_versioned(doc))
            return doc, None
        if conversion.conflicts:
            problems += conversion.conflicts
            return doc, None
        text = raw.decode("utf-8")  # parse_document has refused anything else
        if conversion.needed:
            text = rewrite(text, doc, conversion)
    except SpecError as exc:
        problems += exc.diagnostics
        return None, None
    if conversion.needed and parse_document(text.encode(), name).data != apply(doc, conversion).data:
        raise RuntimeError(f"{name}: the rewritten text does not read as the conversion says")  # a bug of ours
    return doc, FileMigration(path, name, conversion, text.encode("utf-8"))


def _not_versioned(doc: SpecDocument) -> Diagnostic:
    version = doc.data.get("apiVersion")
    if version is None:
        return Diagnostic("E202", "missing required field 'apiVersion'", SourceLocation(doc.name, 1, 1), "apiVersion",
                          "add 'apiVersion: govstack.dev/...' (the version the file was written in)")
    return doc.diagnostic(("apiVersion",), "E116", f"{version!r} is not a govstack.dev spec version",
                          "a spec or catalog entry starts with apiVersion: govstack.dev/<version>")


def write_migrations(migrations: list[FileMigration]) -> None:
    """Replace each file that changes, atomically, keeping its permissions; through a symbolic
    link its target changes and the link stays."""
    for migration in migrations:
        if migration.needed:
            replace_file(migration.path.resolve(), migration.text)

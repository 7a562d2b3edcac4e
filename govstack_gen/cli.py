"""Command line: parse arguments, call the stages, map outcomes to exit codes.

Kept thin and cheap to import: `govstack-gen --help` must not load pydantic or ruamel, so
every heavy import happens inside the command that needs it.
"""

from __future__ import annotations

import argparse
import posixpath
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from govstack_gen import __version__
from govstack_gen.validation import DEFAULT_KUBE_VERSION

if TYPE_CHECKING:  # imported when a command runs: `--help` pays for argparse only
    from pathlib import Path

    from govstack_gen.errors import Diagnostic, ExitStatus
    from govstack_gen.resolve import Resolved
    from govstack_gen.spec.load import SpecDocument
    from govstack_gen.validation.chart_render import Renderer

__all__ = ["main"]

DEFAULT_SPEC = "environment.yaml"


def _spec_argument(command: argparse.ArgumentParser, what: str = "environment spec") -> None:
    command.add_argument("spec", nargs="?", default=DEFAULT_SPEC, help=f"{what} (default: {DEFAULT_SPEC})")


def _chart_options(command: argparse.ArgumentParser, what: str) -> None:
    group = command.add_argument_group("charts", what)
    group.add_argument("--charts", action="store_true", help="render the charts too")
    group.add_argument("--chart-dir", action="append", default=[], metavar="DIR",
                       help="folder of chart folders or packaged charts (.tgz), searched first; repeatable")
    group.add_argument("--helm", metavar="CMD", help="helm binary (default: $HELM, then helm)")
    group.add_argument("--offline", action="store_true", help="never fetch a chart (helm pull, git) into the chart cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govstack-gen",
        description="Render one GovStack environment spec into a GitOps repository that Flux or Argo CD reconciles.",
    )
    parser.add_argument("--version", action="version", version=f"govstack-gen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = commands.add_parser(
        "render",
        help="render the spec into the output tree",
        description="Render the spec into the output tree. Only files govstack-gen owns are written or "
        "deleted; a file edited by hand is never overwritten without --force.",
    )
    _spec_argument(render)
    render.add_argument("-o", "--output", help="output directory (default: the spec's folder joined "
                        "with gitops.path)")
    render.add_argument("--check", action="store_true", help="write nothing; exit 1 and list the files that differ")
    render.add_argument("--force", action="store_true", help="overwrite or delete generated files that were edited by hand")
    render.add_argument("--allow-data-move", action="store_true",
                        help="render even though volumes would move or disappear (after migrating their data)")
    render.add_argument("--mirror", metavar="REGISTRY", help="air-gapped: take every chart and image from this "
                        "registry (see `govstack-gen bom --mirror`)")
    render.set_defaults(run=_render)

    validate = commands.add_parser(
        "validate",
        help="check the rendered tree as a cluster would (schemas, kustomize builds, security policy)",
        description="Render the spec in memory, build every overlay with kustomize, and check every object against "
        "the Kubernetes schemas of one version and custom resources against their CRDs, then the security policy. "
        "Writes nothing; exit 1 on any error.",
    )
    _spec_argument(validate)
    validate.add_argument("--kube-version", default=DEFAULT_KUBE_VERSION, metavar="X.Y",
                          help="Kubernetes version whose schemas to check against (default: %(default)s)")
    validate.add_argument("--crds", action="append", default=[], metavar="DIR",
                          help="CRD YAML files (a folder or a file; repeatable). A Flux gotk-components.yaml in the "
                          "spec's repository is picked up as well")
    validate.add_argument("--kustomize", metavar="CMD", help="kustomize binary (default: $KUSTOMIZE, kustomize, "
                          "then kubectl kustomize)")
    validate.add_argument("--tree", metavar="DIR", help="check the tree in DIR (as committed, hand edits included) "
                          "instead of rendering the spec in memory")
    validate.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    _chart_options(validate, "render every building block's chart as its engine would and check what it makes against "
                   "the tree's rules (RBAC, Pod Security, claims, quota, routes, images, values the chart never reads)")
    validate.add_argument("--mirror", metavar="REGISTRY", help="check the tree `render --mirror REGISTRY` writes (with "
                          "--charts: every image the charts run must come from the registry)")
    validate.set_defaults(run=_validate)

    diff = commands.add_parser(
        "diff",
        help="show what the spec changes, object by object, against the committed tree",
        description="Render the spec in memory and compare the objects every stage applies with those of the "
        "tree in a folder or at a git ref: added, changed (with the fields) and removed objects, grouped by "
        "building block, destructive changes first. Writes nothing.",
    )
    _spec_argument(diff)
    diff.add_argument("--against", metavar="DIR|REF", help="a folder holding a rendered tree, or a git ref (branch, "
                      "tag, commit) of the repository holding the output tree (default: the output tree on disk)")
    diff.add_argument("--format", choices=["text", "markdown", "json"], default="text",
                      help="text, markdown (for a pull-request comment) or json (default: text)")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes (as git diff --exit-code)")
    diff.set_defaults(run=_diff)

    bom = commands.add_parser(
        "bom",
        help="list every chart and image of the environment, per stage (bill of materials)",
        description="List every chart (source, name, version) and every container image the building blocks declare "
        "in their values, per stage. With --mirror, also where each goes in a private registry: the list to copy "
        "from for an air-gapped install (then `govstack-gen render --mirror REGISTRY`).",
    )
    _spec_argument(bom)
    bom.add_argument("--format", choices=["text", "json", "csv"], default="text", help="output format (default: text)")
    bom.add_argument("--mirror", metavar="REGISTRY", help="private registry (host[:port][/path]) the charts and images "
                     "are copied to")
    _chart_options(bom, "also list the images the charts render without values naming them (valuesPath \"(chart)\")")
    bom.set_defaults(run=_bom)

    graph = commands.add_parser(
        "graph",
        help="print the building blocks' dependency graph (Mermaid or DOT)",
        description="Print the dependency graph that orders the building blocks (Flux dependsOn, Argo CD sync "
        "waves): Mermaid for Markdown and pull requests, DOT for Graphviz.",
    )
    _spec_argument(graph)
    graph.add_argument("--format", choices=["mermaid", "dot"], default="mermaid", help="output format (default: mermaid)")
    graph.set_defaults(run=_graph)

    catalog = commands.add_parser(
        "catalog",
        help="list the building-block catalog: entries, what they provide and require",
        description="List the catalog entries a spec can use (catalog: {name: ...}): the shipped ones and those of "
        "the folders under the spec's `catalogs:`, with their chart, the labels they provide, their requirements "
        "and influences.",
    )
    _spec_argument(catalog, "environment spec whose catalog folders to include, if it exists")
    catalog.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    catalog.set_defaults(run=_catalog)

    audit = commands.add_parser(
        "audit",
        help="report generated files edited, deleted or added by hand",
        description="Compare a rendered tree with its ownership manifest (.govstack-gen/manifest.json): generated "
        "files edited or deleted by hand, and files added by hand in generated folders. Reads only; exit 1 if any.",
    )
    audit.add_argument("tree", nargs="?", default=".", metavar="DIR",
                       help="the rendered tree, or a folder with environment.yaml (default: the current folder)")
    audit.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    audit.set_defaults(run=_audit)

    migrate = commands.add_parser(
        "migrate",
        help="rewrite the spec and its catalog folders in the current spec version",
        description="Rewrite a spec written in an older spec version (apiVersion), and the entry files of its "
        "catalog folders, in place: only the apiVersion and the renamed keys change, comments and layout stay. "
        "Files already in the version are left alone. Nothing is written if any file has a problem.",
    )
    _spec_argument(migrate)
    migrate.add_argument("--to", metavar="VERSION", help="the spec version to migrate to (default: the newest this "
                         "govstack-gen reads); copier's template migrations name the version of their release")
    migrate.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file would change")
    migrate.set_defaults(run=_migrate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the spec",
                                 description="Print the JSON Schema of environment.yaml (for editors and CI).")
    schema.set_defaults(run=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from govstack_gen.errors import ExitStatus, GenError

    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return ExitStatus.USAGE
    try:
        return int(args.run(args, sys.stdout, sys.stderr))
    except GenError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        errors = sum(1 for d in exc.diagnostics if d.severity == "error")
        print(f"{errors} error{'s' if errors != 1 else ''}; nothing was written", file=sys.stderr)
        return ExitStatus.FAILURE
    except OSError as exc:  # disk full, permissions: the environment's fault, not a bug
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"govstack-gen: error: {exc.strerror or exc}{where}; the output tree is unchanged, or completed by "
              "the next run", file=sys.stderr)
        return ExitStatus.FAILURE
    except KeyboardInterrupt:
        print("interrupted; the output tree is unchanged or completed by the next run", file=sys.stderr)
        return ExitStatus.FAILURE
    except Exception:
        if args.debug:
            raise
        print("govstack-gen: internal error (a bug): rerun with --debug and report the traceback", file=sys.stderr)
        return ExitStatus.INTERNAL


def _render(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from pathlib import Path

    from govstack_gen.diff import inputs_digest, stray_warnings, unchanged_since
    from govstack_gen.errors import ExitStatus
    from govstack_gen.spec.load import read_spec

    if args.output is not None:
        args.output = Path(args.output)
    spec = _spec_file(args, err)
    if spec is None:
        return ExitStatus.USAGE
    raw = read_spec(spec, spec.name)
    inputs = inputs_digest(raw, spec.name, f"mirror={args.mirror}" if args.mirror else "")
    doc = _peek(spec, raw) if args.output is None else None
    root = args.output if args.output is not None else _default_root(spec, doc)
    if root is not None:
        _refuse_plaintext_secrets(root)
    # Nothing changed since the last render (same spec, same govstack-gen, tree untouched):
    # no need to validate and render again. This is what CI runs on every pull request.
    owned = unchanged_since(root, inputs) if root is not None else None
    if root is not None and owned is not None:
        _print_warnings(_version_warnings(spec, raw, doc), err)
        for warning in stray_warnings(root, owned):
            print(warning.render(), file=err)
        print(f"{root}: {'up to date' if args.check else 'nothing changed'} ({len(owned)} files)", file=err)
        return ExitStatus.OK
    return _render_fully(args, spec, inputs, out, err, secrets_checked=root)


def _refuse_plaintext_secrets(root: Path) -> None:
    """Checked on every render, the quick one too: a file can turn up under secrets/ at any time."""
    from govstack_gen.errors import SpecError
    from govstack_gen.sops_files import unencrypted_secrets

    problems = unencrypted_secrets(root)
    if problems:
        raise SpecError(problems)


def _spec_file(args: argparse.Namespace, err: TextIO) -> Path | None:
    """The SPEC argument as a path, or None (reported) when there is no such file."""
    from pathlib import Path

    spec = Path(args.spec)
    if not spec.is_file():
        print(f"govstack-gen: error: spec file {str(spec)!r} not found", file=err)
        return None
    return spec


def _peek(spec: Path, raw: bytes) -> SpecDocument | None:
    """The spec parsed but not validated, for what the quick paths need (None when it does not
    parse: the full load reports why)."""
    from govstack_gen.errors import SpecError
    from govstack_gen.spec.load import parse_document

    try:
        return parse_document(raw, spec.name)
    except SpecError:
        return None


def _version_warnings(spec: Path, raw: bytes, doc: SpecDocument | None) -> list[Diagnostic]:
    """What the full load would warn about the spec's own version (E117), for the quick path,
    which must stay quick: a spec in the current version is told without parsing it."""
    from govstack_gen.errors import SpecError
    from govstack_gen.spec.versions import convert, declares_current

    if declares_current(raw):
        return []
    doc = doc or _peek(spec, raw)
    try:
        return convert(doc)[1] if doc is not None else []
    except SpecError:
        return []


def _print_warnings(warnings: Sequence[Diagnostic], err: TextIO) -> None:
    for warning in warnings:
        print(warning.render(), file=err)


def _default_root(spec: Path, doc: SpecDocument | None) -> Path | None:
    """Where the tree goes without --output: the spec's folder joined with gitops.path, read
    without validating (None when that is not plain to see; the full render then decides)."""
    if doc is None:
        return None
    gitops = doc.data.get("gitops")
    path = gitops.get("path", ".") if isinstance(gitops, dict) else None
    if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
        return None
    return spec.parent / posixpath.normpath(path or ".")


def _render_fully(args: argparse.Namespace, spec: Path, inputs: str, out: TextIO, err: TextIO,
                  secrets_checked: Path | None) -> ExitStatus:
    from govstack_gen.diff import plan_write
    from govstack_gen.errors import ExitStatus
    from govstack_gen.pipeline import load_and_resolve
    from govstack_gen.render.targets import render_files
    from govstack_gen.safety import data_inventory
    from govstack_gen.writer import TXN, apply_plan, recover

    resolved = load_and_resolve(spec)
    _print_warnings(resolved.warnings, err)
    if args.mirror:
        from govstack_gen.mirror import mirror

        resolved = mirror(resolved, args.mirror)
    files = render_files(resolved)
    data = data_inventory(resolved)
    root: Path = args.output if args.output is not None else spec.parent / resolved.gitops.path
    if root != secrets_checked:  # the spec's folder only now tells where the tree is
        _refuse_plaintext_secrets(root)
    _render_notes(root, resolved, err)
    if args.check:
        pending = (root / TXN / "COMMIT").exists()
        plan = plan_write(root, files, resolved.source, data=data)
        for warning in plan.warnings:
            print(warning.render(), file=err)
        if plan.changed or plan.conflicts or pending:
            lines = plan.summary_lines()
            if pending:
                lines.insert(0, "pending  an interrupted render; run `govstack-gen render` to complete it")
            print("\n".join(lines), file=out)
            print(f"{root}: out of date with {spec} ({len(lines)} difference{'s' if len(lines) != 1 else ''}); "
                  "run `govstack-gen render`", file=err)
            return ExitStatus.FAILURE
        print(f"{root}: up to date ({len(files)} files)", file=err)
        return ExitStatus.OK
    if recover(root):
        print(f"{root}: completed an interrupted render first", file=err)
    plan = plan_write(root, files, resolved.source, data=data, inputs=inputs, force=args.force,
                      allow_data_move=args.allow_data_move)
    for warning in plan.warnings:
        print(warning.render(), file=err)
    apply_plan(plan)
    if not plan.changed:
        print(f"{root}: nothing changed ({len(files)} files up to date)", file=err)
    else:
        print(f"{root}: {len(plan.create)} created, {len(plan.update)} updated, {len(plan.delete)} deleted, "
              f"{len(plan.unchanged)} unchanged", file=err)
    return ExitStatus.OK


def _render_notes(root: Path, resolved: Resolved, err: TextIO) -> None:
    """What a reviewer and the operator should know: which building blocks others changed, and
    which SOPS files the spec expects that are not there yet."""
    from govstack_gen.sops_files import missing_secret_files

    for block in resolved.blocks:
        if block.influenced_by:
            print(f"influenced: {block.id} <- {', '.join(block.influenced_by)}", file=err)
    for rel in missing_secret_files(root, resolved):
        print(f"note: {root / rel} does not exist yet; create the Secret there and encrypt it with "
              f"`sops --encrypt --in-place` (its building block waits for it)", file=err)


def _catalog(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from pathlib import Path

    from govstack_gen.catalog import catalog_of, load_catalog
    from govstack_gen.catalog.report import catalog_json, catalog_text
    from govstack_gen.errors import ExitStatus, SpecError
    from govstack_gen.spec.load import parse_document, read_spec

    spec = Path(args.spec)
    if spec.is_file():
        catalog, problems = catalog_of(parse_document(read_spec(spec, spec.name), spec.name), spec.parent)
        if problems:
            raise SpecError(problems)
        _print_warnings(catalog.warnings, err)
    elif args.spec == DEFAULT_SPEC:  # no spec here: the shipped catalog alone
        catalog = load_catalog()
    else:
        print(f"govstack-gen: error: spec file {args.spec!r} not found", file=err)
        return ExitStatus.USAGE
    out.write(catalog_json(catalog) if args.format == "json" else catalog_text(catalog))
    return ExitStatus.OK


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from pathlib import Path

    from govstack_gen.errors import Diagnostic, ExitStatus, SourceLocation, SpecError
    from govstack_gen.validation.build import KustomizeNotFound, kustomize_command
    from govstack_gen.validation.report import json_report, text_report
    from govstack_gen.validation.run import flux_components, validate_spec
    from govstack_gen.validation.schemas import SchemaSet, UnsupportedKubeVersion, crd_paths, load_crds

    spec = Path(args.spec)
    tree = Path(args.tree) if args.tree else None
    missing = [str(p) for p in [spec, *map(Path, args.crds), *map(Path, args.chart_dir), *([tree] if tree else [])]
               if not p.exists()]
    if missing:
        print(f"govstack-gen: error: {', '.join(repr(m) for m in missing)} not found", file=err)
        return ExitStatus.USAGE
    paths = [p for d in args.crds for p in crd_paths(Path(d))] + flux_components(spec.parent)
    crds, problems = load_crds(paths)
    try:
        schemas = SchemaSet(args.kube_version, crds)
    except UnsupportedKubeVersion as exc:
        print(f"govstack-gen: error: --kube-version: {exc}", file=err)
        return ExitStatus.USAGE
    try:
        kustomize = kustomize_command(args.kustomize)
    except KustomizeNotFound as exc:
        problems.append(Diagnostic("E707", f"cannot build the overlays: {exc}", SourceLocation(str(spec)),
                                   hint="install kustomize (or kubectl), or name it with --kustomize"))
        kustomize = ()
    renderer = _chart_renderer(args, spec, kustomize, schemas.kube_version, problems) if args.charts and kustomize else None
    result = None
    try:
        if kustomize and (renderer is not None or not args.charts):
            result = validate_spec(spec, schemas, kustomize, tree, renderer, args.mirror)
            problems += result.diagnostics
    except SpecError as exc:
        problems += exc.diagnostics
    if args.format == "json":
        out.write(json_report(result, problems))
    elif result is not None:
        result.diagnostics = problems
        out.write(text_report(result))
    else:
        errors = sum(1 for d in problems if d.severity == "error")
        out.write("".join(d.render() + "\n" for d in problems))
        out.write(f"invalid: {errors} error{'s' if errors != 1 else ''} before anything could be rendered and checked\n")
    return ExitStatus.FAILURE if any(d.severity == "error" for d in problems) else ExitStatus.OK


def _chart_images(args: argparse.Namespace, spec: Path, resolved: Resolved, err: TextIO) -> tuple[list[tuple[str, str, str]], bool]:
    """For `bom --charts`: every image the charts render, and whether every chart rendered (what
    did not is reported)."""
    from govstack_gen.validation import DEFAULT_KUBE_VERSION
    from govstack_gen.validation.build import KustomizeNotFound, kustomize_command
    from govstack_gen.validation.chart_run import chart_images
    from govstack_gen.validation.run import build_stages

    problems: list[Diagnostic] = []
    try:
        kustomize = kustomize_command()
    except KustomizeNotFound as exc:
        print(f"govstack-gen: error: --charts: cannot build the tree: {exc}", file=err)
        return [], False
    renderer = _chart_renderer(args, spec, kustomize, DEFAULT_KUBE_VERSION, problems)
    if renderer is None:
        _print_warnings(problems, err)
        return [], False
    built, errors = build_stages(resolved, kustomize)
    found, unrendered = chart_images(resolved, built, renderer)
    for problem in [*errors, *unrendered]:
        print(f"govstack-gen: error: --charts: {problem}; its images are missing from the list", file=err)
    return found, not (errors or unrendered)


def _chart_renderer(args: argparse.Namespace, spec: Path, kustomize: tuple[str, ...], kube_version: str,
                    problems: list[Diagnostic]) -> Renderer | None:
    """What renders the charts for `validate --charts`, or None (with E721) when helm is missing."""
    from pathlib import Path

    from govstack_gen.errors import Diagnostic, SourceLocation
    from govstack_gen.validation.chart_render import Renderer, default_render_cache
    from govstack_gen.validation.charts import ChartStore, default_cache
    from govstack_gen.validation.helm import HelmNotFound, helm_command, helm_version

    try:
        helm = helm_command(args.helm)
    except HelmNotFound as exc:
        problems.append(Diagnostic("E721", f"cannot render the charts: {exc}", SourceLocation(str(spec)),
                                   hint="install helm (scripts/install-tools helm builds the pinned one), or name it with --helm"))
        return None
    store = ChartStore([Path(d) for d in args.chart_dir], default_cache(), fetch=not args.offline, helm=helm)
    return Renderer(store, helm, helm_version(helm), kustomize, f"{kube_version}.0", default_render_cache())


def _diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:

    from govstack_gen.errors import ExitStatus
    from govstack_gen.review.report import json_report, markdown_report, text_report
    from govstack_gen.review.run import GitError, diff_spec

    spec = _spec_file(args, err)
    if spec is None:
        return ExitStatus.USAGE
    try:
        found = diff_spec(spec, args.against)
    except GitError as exc:
        print(f"govstack-gen: error: --against: {exc}", file=err)
        return ExitStatus.USAGE
    _print_warnings(found.warnings, err)
    report = {"text": text_report, "markdown": markdown_report, "json": json_report}[args.format]
    out.write(report(found.changes, found.stages, found.against, found.notes))
    return ExitStatus.FAILURE if args.exit_code and found.changes else ExitStatus.OK


def _bom(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:

    from govstack_gen.bom import bill_of_materials, with_chart_images
    from govstack_gen.bom_report import csv_report, json_report, rows, text_report
    from govstack_gen.errors import ExitStatus
    from govstack_gen.mirror import mirror
    from govstack_gen.pipeline import load_and_resolve

    spec = _spec_file(args, err)
    if spec is None:
        return ExitStatus.USAGE
    resolved = load_and_resolve(spec)
    _print_warnings(resolved.warnings, err)
    if args.mirror:
        mirror(resolved, args.mirror)  # refuses an invalid registry before anything is printed
    charts, images = bill_of_materials(resolved)
    complete = True
    if args.charts:  # a list missing what a chart could not render says so, and fails
        found, complete = _chart_images(args, spec, resolved, err)
        images = with_chart_images(images, found)
    table = rows(charts, images, args.mirror)
    out.write({"text": text_report, "json": json_report, "csv": csv_report}[args.format](table))
    return ExitStatus.OK if complete else ExitStatus.FAILURE


def _graph(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:

    from govstack_gen.errors import ExitStatus
    from govstack_gen.graph import dot, mermaid
    from govstack_gen.pipeline import load_and_resolve

    spec = _spec_file(args, err)
    if spec is None:
        return ExitStatus.USAGE
    resolved = load_and_resolve(spec)
    _print_warnings(resolved.warnings, err)
    out.write((mermaid if args.format == "mermaid" else dot)(resolved))
    return ExitStatus.OK


def _audit(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    import json
    from pathlib import Path

    from govstack_gen.audit import NotATree, audit_tree
    from govstack_gen.diff import MANIFEST
    from govstack_gen.errors import ExitStatus
    from govstack_gen.spec.load import read_spec
    from govstack_gen.validation.report import diagnostic_json

    root = Path(args.tree)
    spec = root / DEFAULT_SPEC
    if not (root / MANIFEST).exists() and spec.is_file():  # an environment repository: its tree
        root = _default_root(spec, _peek(spec, read_spec(spec, spec.name))) or root
    try:
        findings, owned = audit_tree(root)
    except NotATree as exc:
        print(f"govstack-gen: error: {exc}", file=err)
        return ExitStatus.USAGE
    if args.format == "json":
        out.write(json.dumps({"tree": str(root), "owned": owned, "clean": not findings,
                              "findings": [diagnostic_json(d) for d in findings]}, indent=2) + "\n")
    else:
        out.write("".join(d.render() + "\n" for d in findings))
        verdict = "clean" if not findings else f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
        print(f"{root}: {verdict} ({owned} generated files)", file=err)
    return ExitStatus.FAILURE if findings else ExitStatus.OK


def _migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.migrate import plan_migration, write_migrations
    from govstack_gen.spec.versions import CURRENT, KNOWN

    spec = _spec_file(args, err)
    if spec is None:
        return ExitStatus.USAGE
    to = args.to or CURRENT
    if to not in KNOWN:
        print(f"govstack-gen: error: --to: {to!r} is not a spec version govstack-gen {__version__} knows "
              f"({', '.join(KNOWN)}); a newer govstack-gen may", file=err)
        return ExitStatus.USAGE
    migrations = plan_migration(spec, to)
    pending = [m for m in migrations if m.needed]
    for migration in pending:
        print("\n".join(migration.report()), file=out)
    for migration in migrations:
        if not migration.needed and migration.conversion.source != to:
            print(f"{migration.name}: {migration.conversion.source} is past {to}; left as it is", file=err)
    files = f"{len(pending)} file{'s' if len(pending) != 1 else ''}"
    if not pending:
        print(f"{spec}: nothing to migrate ({len(migrations)} file{'s' if len(migrations) != 1 else ''} checked)", file=err)
        return ExitStatus.OK
    if args.check:
        print(f"{files} to migrate to {to}; run `govstack-gen migrate`", file=err)
        return ExitStatus.FAILURE
    write_migrations(migrations)
    print(f"migrated {files} to {to}; the rendered tree stays the same (`govstack-gen render --check` shows it)",
          file=err)
    return ExitStatus.OK


def _schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.spec.schema import schema_json

    out.write(schema_json())
    return ExitStatus.OK

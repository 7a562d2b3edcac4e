"""The sub-commands as data: the name, the help and the options of each, and (by its name) the
module under `govstack_gen.commands` whose `run(args, out, err)` does its work.

Cheap to import on purpose: `cli` builds every sub-parser from this table for `--help`, and a
command's module, with what it needs (pydantic, ruamel, ...), is imported only when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govstack_gen.validation import DEFAULT_KUBE_VERSION

__all__ = ["COMMANDS", "DEFAULT_SPEC", "Command", "Group", "Option"]

DEFAULT_SPEC = "environment.yaml"


@dataclass(frozen=True)
class Option:
    """One argument: argparse's flags and keywords, as `add_argument` takes them."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def option(*flags: str, **options: Any) -> Option:
    return Option(flags, options)


@dataclass(frozen=True)
class Group:
    """Options shown under their own heading in --help."""

    title: str
    description: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Command:
    name: str  # also the module that runs it: govstack_gen.commands.<name>
    help: str  # the line in `govstack-gen --help`
    description: str  # the paragraph of `govstack-gen <name> --help`
    options: tuple[Option | Group, ...]


def spec_argument(what: str = "environment spec") -> Option:
    return option("spec", nargs="?", default=DEFAULT_SPEC, help=f"{what} (default: {DEFAULT_SPEC})")


def formats(*choices: str, what: str = "output format") -> Option:
    return option("--format", choices=list(choices), default=choices[0], help=f"{what} (default: {choices[0]})")


def chart_options(what: str) -> Group:
    return Group("charts", what, (
        option("--charts", action="store_true", help="render the charts too"),
        option("--chart-dir", action="append", default=[], metavar="DIR",
               help="folder of chart folders or packaged charts (.tgz), searched first; repeatable"),
        option("--helm", metavar="CMD", help="helm binary (default: $HELM, then helm)"),
        option("--offline", action="store_true", help="never fetch a chart (helm pull, git) into the chart cache"),
    ))


COMMANDS = (
    Command(
        "render", "render the spec into the output tree",
        "Render the spec into the output tree. Only files govstack-gen owns are written or deleted; a file edited by "
        "hand is never overwritten without --force.",
        (
            spec_argument(),
            option("-o", "--output", help="output directory (default: the spec's folder joined with gitops.path)"),
            option("--check", action="store_true", help="write nothing; exit 1 and list the files that differ"),
            option("--force", action="store_true", help="overwrite or delete generated files that were edited by hand"),
            option("--allow-data-move", action="store_true",
                   help="render even though volumes would move or disappear (after migrating their data)"),
            option("--mirror", metavar="REGISTRY", help="air-gapped: take every chart and image from this registry "
                   "(see `govstack-gen bom --mirror`)"),
            formats("text", "json", what="what to print of the files created, updated and deleted (the notes and "
                    "errors stay text, on stderr)"),
        ),
    ),
    Command(
        "validate", "check the rendered tree as a cluster would (schemas, kustomize builds, security policy)",
        "Render the spec in memory, build every overlay with kustomize, and check every object against the Kubernetes "
        "schemas of one version and custom resources against their CRDs, then the security policy. Writes nothing; "
        "exit 1 on any error.",
        (
            spec_argument(),
            option("--kube-version", default=DEFAULT_KUBE_VERSION, metavar="X.Y",
                   help="Kubernetes version whose schemas to check against (default: %(default)s)"),
            option("--crds", action="append", default=[], metavar="DIR",
                   help="CRD YAML files (a folder or a file; repeatable). A Flux gotk-components.yaml in the spec's "
                   "repository is picked up as well"),
            option("--kustomize", metavar="CMD", help="kustomize binary (default: $KUSTOMIZE, kustomize, then kubectl "
                   "kustomize)"),
            option("--tree", metavar="DIR", help="check the tree in DIR (as committed, hand edits included) instead of "
                   "rendering the spec in memory"),
            formats("text", "json", what="report format"),
            chart_options("render every building block's chart as its engine would and check what it makes against "
                          "the tree's rules (RBAC, Pod Security, claims, quota, routes, images, values the chart never "
                          "reads)"),
            option("--mirror", metavar="REGISTRY", help="check the tree `render --mirror REGISTRY` writes (with "
                   "--charts: every image the charts run must come from the registry)"),
        ),
    ),
    Command(
        "diff", "show what the spec changes, object by object, against the committed tree",
        "Render the spec in memory and compare the objects every stage applies with those of the tree in a folder or "
        "at a git ref: added, changed (with the fields) and removed objects, grouped by building block, destructive "
        "changes first. Writes nothing.",
        (
            spec_argument(),
            option("--against", metavar="DIR|REF", help="a folder holding a rendered tree, or a git ref (branch, tag, "
                   "commit) of the repository holding the output tree (default: the output tree on disk)"),
            option("--format", choices=["text", "markdown", "json"], default="text",
                   help="text, markdown (for a pull-request comment) or json (default: text)"),
            option("--exit-code", action="store_true", help="exit 1 when there are changes (as git diff --exit-code)"),
        ),
    ),
    Command(
        "bom", "list every chart and image of the environment, per stage (bill of materials)",
        "List every chart (source, name, version) and every container image the building blocks declare in their "
        "values, per stage. With --mirror, also where each goes in a private registry: the list to copy from for an "
        "air-gapped install (then `govstack-gen render --mirror REGISTRY`).",
        (
            spec_argument(),
            formats("text", "json", "csv"),
            option("--mirror", metavar="REGISTRY", help="private registry (host[:port][/path]) the charts and images "
                   "are copied to"),
            chart_options("also list the images the charts render without values naming them (valuesPath \"(chart)\")"),
        ),
    ),
    Command(
        "graph", "print the building blocks' dependency graph (Mermaid or DOT)",
        "Print the dependency graph that orders the building blocks (Flux dependsOn, Argo CD sync waves): Mermaid for "
        "Markdown and pull requests, DOT for Graphviz, JSON for scripts.",
        (spec_argument(), formats("mermaid", "dot", "json")),
    ),
    Command(
        "catalog", "list the building-block catalog: entries, what they provide and require",
        "List the catalog entries a spec can use (catalog: {name: ...}): the shipped ones and those of the folders "
        "under the spec's `catalogs:`, with their chart, the labels they provide, their requirements and influences.",
        (spec_argument("environment spec whose catalog folders to include, if it exists"), formats("text", "json")),
    ),
    Command(
        "audit", "report generated files edited, deleted or added by hand",
        "Compare a rendered tree with its ownership manifest (.govstack-gen/manifest.json): generated files edited or "
        "deleted by hand, and files added by hand in generated folders. Reads only; exit 1 if any.",
        (
            option("tree", nargs="?", default=".", metavar="DIR",
                   help="the rendered tree, or a folder with environment.yaml (default: the current folder)"),
            formats("text", "json", what="report format"),
        ),
    ),
    Command(
        "migrate", "rewrite the spec and its catalog folders in the current spec version",
        "Rewrite a spec written in an older spec version (apiVersion), and the entry files of its catalog folders, in "
        "place: only the apiVersion and the renamed keys change, comments and layout stay. Files already in the "
        "version are left alone. Nothing is written if any file has a problem.",
        (
            spec_argument(),
            option("--to", metavar="VERSION", help="the spec version to migrate to (default: the newest this "
                   "govstack-gen reads); copier's template migrations name the version of their release"),
            option("--check", action="store_true", help="write nothing; exit 1 when a file would change"),
        ),
    ),
    Command(
        "explain", "explain a diagnostic code: what it means and what to do",
        "Print the documentation of a diagnostic code (the E123 of `error[E123]`): when it is reported, why, and how to "
        "fix it. Without a code, list every code with its one-line summary.",
        (option("code", nargs="?", metavar="CODE", help="a code such as E516 (default: list them all)"),),
    ),
    Command(
        "completion", "print shell completion for bash, zsh or fish",
        "Print the completion script of a shell: eval \"$(govstack-gen completion bash)\" in ~/.bashrc, source "
        "<(govstack-gen completion zsh) in ~/.zshrc, govstack-gen completion fish | source in fish's config.",
        (option("shell", choices=["bash", "zsh", "fish"], help="the shell"),),
    ),
    Command("schema", "print the JSON Schema of the spec",
            "Print the JSON Schema of environment.yaml (for editors and CI).", ()),
)

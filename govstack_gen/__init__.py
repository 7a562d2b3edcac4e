"""govstack-gen: one environment spec -> a GitOps repository that Flux reconciles.

The public API is small on purpose, and lazy: `import govstack_gen` (which the CLI does for
`--help`) loads neither pydantic nor ruamel.yaml until a name below is used.

    from govstack_gen import render_spec, SpecError
    try:
        files = render_spec(Path("environment.yaml"))   # {relative path: bytes}
    except SpecError as exc:
        for diagnostic in exc.diagnostics: ...
"""

from __future__ import annotations

import importlib
from typing import Any

try:  # written by setuptools-scm from the git tag when the package is built or installed
    __version__: str = importlib.import_module("govstack_gen._version").__version__
except ImportError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Diagnostic", "SpecError", "WriteRefused", "__version__", "load_and_resolve", "render_spec"]

_LAZY = {
    "Diagnostic": "govstack_gen.errors",
    "SpecError": "govstack_gen.errors",
    "WriteRefused": "govstack_gen.errors",
    "load_and_resolve": "govstack_gen.pipeline",
    "render_spec": "govstack_gen.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'govstack_gen' has no attribute {name!r}")

"""govstack-gen: one environment spec -> a GitOps repository that Flux reconciles.

The public API is small on purpose; the CLI is a thin layer over it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

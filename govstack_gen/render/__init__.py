"""Pure rendering: a resolved environment -> {relative path: file bytes}. No IO here.

The package itself imports nothing, so light modules (layout) load without the models:
`govstack_gen.render.targets` is the entry point.
"""

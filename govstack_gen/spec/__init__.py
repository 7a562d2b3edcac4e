"""The input language: types, models, loader and cross-object checks."""

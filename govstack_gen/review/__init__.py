"""`govstack-gen diff`: what a render changes, object by object, for reviewers.

`tree` turns a rendered tree (files) into the objects each stage applies, `git` reads a tree
at a git ref, `changes` compares two trees and flags what destroys data or releases, and
`report` prints it as text, Markdown (a pull-request comment) or JSON.
"""

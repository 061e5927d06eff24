"""Data package ``rtcheck.shipped_constraints``: the constraint tables shipped with rtcheck.

This folder holds data, not code (YAML tables, the TG-263 list, the alias table); see
README.md. The file exists so that the folder can be read with :mod:`importlib.resources`
both from a wheel and from an editable install.
"""

"""Seed frameworks: built-in ones and the YAML files analysts write.

>>> from themesift.frameworks import load_framework
>>> load_framework("recovery").theme_ids
['relationships', 'hope', 'structural_tension', 'symptoms_barrier']
"""

from .framework import check_framework, describe_framework, list_frameworks, load_framework

__all__ = ["load_framework", "check_framework", "list_frameworks", "describe_framework"]

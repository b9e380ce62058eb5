"""samplekit: sample design, panel maintenance, monthly monitoring and unemployment early warning.

A workbench for the statisticians of a provincial human-resources and social-security department
(see ``docs/`` and ``../shared/DOMAIN.md`` for the rules it implements).
"""

__version__ = "0.1.0"

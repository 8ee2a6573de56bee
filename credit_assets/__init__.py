"""Credit-decision platform: hard rules, features, model and review band as Dagster assets."""

__version__ = "0.1.0"

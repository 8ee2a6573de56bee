"""The ``credit-assets`` command line: sub-commands, the in-process runner, the GraphQL client."""

from credit_assets.cli.app import app, main

__all__ = ["app", "main"]

"""Dataset contracts shipped with the package."""

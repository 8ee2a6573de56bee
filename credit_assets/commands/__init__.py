"""Sub-commands of ``credit-assets`` that have sub-commands of their own."""

"""The real-time decision API: ``create_app(settings)``, run by ``credit-assets serve``."""

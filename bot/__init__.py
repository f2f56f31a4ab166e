"""The MS back-pain check-in bot: configuration, wiring and the domain services."""

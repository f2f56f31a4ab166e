"""Clinical and user-facing text as data; ``content.loader`` reads and validates it."""

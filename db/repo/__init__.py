"""Queries, one module per table family. Repositories never commit: the caller owns the unit of
work (``async with sessions.begin() as session``)."""

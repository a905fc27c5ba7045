"""Database sources: live connections (through the guard) and offline DDL, each turned into a Catalog."""

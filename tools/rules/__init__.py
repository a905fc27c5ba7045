"""Rules: small functions registered under stable ids; their text lives in dbsage.knowledge."""

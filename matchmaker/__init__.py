"""Matchmaker: complementary partners for Italian SMEs and the contratto di rete."""

__version__ = "0.1.0"

"""Leaderboards: run records -> markdown pages and PNG figures, deterministically.

``sources`` reads records (store and committed ``leaderboards/records/*.jsonl``), ``protocol``
groups them by experimental protocol, ``stats`` aggregates seeds, ``tables`` renders ranked
tables, ``published`` holds the seed report's numbers (never mixed with measured rows),
``pages`` writes the markdown and ``figures`` the plots. ``bench leaderboard`` drives them.
"""

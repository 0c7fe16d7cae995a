"""The seeds a run may have: checked once, where they are typed (``bench run``, a sweep grid,
a record read from someone else), so that a bad one never reaches training or the store."""
from __future__ import annotations

from bench.errors import ConfigError

# torch.Generator.manual_seed takes up to 2**64 - 1, but the store keeps the seed in a SQLite
# INTEGER, a signed 64-bit number: a larger seed would train and then fail to be stored.
MAX_SEED = 2**63 - 1
# One command's runs are listed before any starts; a count past this is a typo (seeds = 1e9)
# that would otherwise hold the command while it lists them.
MAX_RUNS = 100_000


def seed_problem(seed: object) -> str | None:
    """Why ``seed`` is not a usable run seed, or None."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        return f"expected a whole number, got {type(seed).__name__}"
    if seed < 0:
        return "seeds are 0 or more"
    if seed > MAX_SEED:
        return f"seeds are at most {MAX_SEED} (2**63 - 1, what the store keeps)"
    return None


def check_seeds(first: int, count: int, option: str = "--first-seed") -> None:
    """Raises a one-line ConfigError unless ``first`` .. ``first + count - 1`` are all usable."""
    if count > MAX_RUNS:
        raise ConfigError(f"{count} seeds: at most {MAX_RUNS:,} in one command (a typo?)")
    for seed in (first, first + max(count, 1) - 1):
        problem = seed_problem(seed)
        if problem is not None:
            raise ConfigError(f"{option} {first} with {count} seed(s): seed {seed} is not "
                              f"usable ({problem})")

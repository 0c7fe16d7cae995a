"""``bench sweep``: expand a grid into runs, skip what the store already has, run the rest on
a local process pool or a Ray cluster. Only the driver writes the store."""

"""``bench sweep``: expand a grid into runs, skip what the store already has, run the rest on
a local process pool (which ``bench run`` uses too), a Ray cluster or a SLURM job array. Only
the driver writes the store."""

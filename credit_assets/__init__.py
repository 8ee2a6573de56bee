"""Credit-decision platform: hard rules, features, model and review band as Dagster assets."""

import os

# LightGBM's OpenMP threads busy-wait by default: on a shared 2-core host (workers, the
# webserver and tests side by side) that turned an 80 s training into 350 s. Passive waiting
# costs nothing measurable when the cores are free. Set before lightgbm loads its runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

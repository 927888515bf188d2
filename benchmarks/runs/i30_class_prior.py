"""Issue 22, session 30: HAMR's classification class-level start at τ 1 (``class_prior_power`` 1, w ∝ n_y^-1) against
the default τ 0.5, on the held-out half of validation only (no test figure), with the tables and the decision rule of
:mod:`i28_class_sampler` (controls: cpu_offsets' ``hamr``, balanced sampler and MetaBalance at the same seeds).

    python benchmarks/runs/i30_class_prior.py [benchmarks/results/screens/i30_class_prior] [benchmarks/results/cpu_offsets]
"""

from __future__ import annotations

import sys
from pathlib import Path

from i28_class_sampler import main

if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0] if args else "benchmarks/results/screens/i30_class_prior"),
         Path(args[1] if len(args) > 1 else "benchmarks/results/cpu_offsets"),
         title="HAMR's classification class-level start τ 1 (`class_prior_power`)", script="i30_class_prior.py")

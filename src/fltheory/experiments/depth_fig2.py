"""The ``depth-fig2`` sweep point: the seed paper's Fig. 2 analogue on the digits at one (arch, L, seed)
(issue #15; the experiment itself is :mod:`fltheory.depth.fig2`)."""
from __future__ import annotations

from ..depth.fig2 import FIG2_OUTPUTS, check_fig2_point, fig2_point
from ..sweep.registry import declare

depth_fig2_point = declare(outputs=FIG2_OUTPUTS, validate=check_fig2_point)(fig2_point)

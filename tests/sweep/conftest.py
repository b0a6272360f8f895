"""The sweep tests import their point functions from ``sweep_fixtures`` (this folder), in this
process and in the worker processes they start, by the dotted path ``sweep_fixtures:<name>``."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

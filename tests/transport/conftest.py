"""Make the test helpers in this folder (plume_reference.py) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

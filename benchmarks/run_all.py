"""Run every benchmark script in this folder and print its figures (``make bench``)."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in sorted(HERE.glob("*.py")):
    if script.name == Path(__file__).name:
        continue
    print(f"=== {script.name}")
    sys.argv = [str(script)]
    runpy.run_path(str(script), run_name="__main__")
    print()

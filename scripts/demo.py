"""`make demo`: the whole pipeline on a local demo.

Grows into the full demo (sandbox, local Snowflake, two meltano runs); for now it
shows that both plugins are installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> None:
    """Describe both plugins."""
    for plugin in ("tap-intercom", "target-snowflake"):
        subprocess.run([str(BIN / plugin), "--about"], check=True)


if __name__ == "__main__":
    main()

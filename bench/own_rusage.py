"""Run a command and write its own resource usage (CPU time, peak RSS) as JSON.

Run: python -S bench/own_rusage.py OUT.json COMMAND [ARGS...]
Exits with the command's exit code. Why not simply `os.wait4` on a process the bench
starts: Linux keeps a process's peak RSS across `exec` as the larger of the old and the
new address space's, and `subprocess` starts children with vfork, whose old address
space is the parent's. A tap started by the bench (over 100 MB of imports: the
Snowflake connector, pyarrow) so reported the bench's peak, not its own. This launcher
is small (`python -S`, about 10 MB) and forks the command, so the peak the command
reports is its own.
"""

import json
import os
import sys
from pathlib import Path


def launcher(out: Path) -> list[str]:
    """The command prefix that runs a command under this launcher, writing to `out`."""
    return [sys.executable, "-S", os.path.abspath(__file__), str(out)]


def read_usage(out: Path) -> dict[str, float]:
    """What the launcher wrote: `cpu_seconds` and `rss_mb`, the command's own."""
    usage = json.loads(Path(out).read_text())
    return {"cpu_seconds": usage["cpu_seconds"], "rss_mb": usage["max_rss_kib"] / 1024}


def main() -> None:
    out, command = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as file:
        json.dump(
            {
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "max_rss_kib": usage.ru_maxrss,  # Linux reports KiB
            },
            file,
        )
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()

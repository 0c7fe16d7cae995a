"""Which processes are still running, read from /proc (Linux): what the tests that signal or
kill a command check afterwards. A helper module, not a test module (like sweep_probe)."""
from __future__ import annotations

import time
from pathlib import Path

HAS_PROC = Path("/proc/self/stat").exists()


def _stat_fields(stat: Path) -> list[str] | None:
    try:
        return stat.read_text().rsplit(")", 1)[1].split()   # after "pid (name)"
    except OSError:
        return None


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return fields is not None and fields[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Processes (zombies excepted) still in the process group."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


def wait_until_gone(pgid: int, seconds: float = 20) -> list[int]:
    """The group's members still alive after up to ``seconds`` (helpers such as the resource
    tracker leave a moment after their parent)."""
    deadline = time.monotonic() + seconds
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return group_members(pgid)

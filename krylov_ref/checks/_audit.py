"""What a graded kernel tried to do outside its notebook: an audit hook.

When a notebook is autograded, :func:`krylov_ref.checks._seal.arm` installs
:func:`install`'s hook (PEP 578; such a hook cannot be removed). It records
the attempts that the sandbox exists to stop (writing outside the scratch
folder, reading outside what the kernel may read, listing folders above its
own, connecting to anything, starting processes, signalling other processes,
changing resource limits), each with the cells whose code is on the stack.
After each cell the records are published as an output of a MIME type that
no notebook view shows; outside the kernel the grader keeps those that came
from the student's code and reports them (:mod:`krylov_ref.grading`).

This reports; it does not prevent: the sandbox does. Code in the same
interpreter could hide from it with enough introspection, as it could from
any in-kernel check (docs/instructor.md, the threat model).
"""

from __future__ import annotations

import hashlib
import linecache
import os
import signal
import sys
import tempfile

__all__ = ["MIME_AUDIT", "install", "cell_hash"]

MIME_AUDIT = "application/vnd.krylov-ref.audit+json"
MAX_EVENTS = 40  # per cell: enough to say what was tried

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_WRITES = {"os.remove", "os.rmdir", "os.rename", "os.truncate", "os.chmod", "os.chown",
                "os.mkdir", "os.symlink", "os.link", "os.utime", "shutil.rmtree",
                "shutil.copyfile", "shutil.move"}
_NETWORK = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
_PROCESSES = {"os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn", "os.system",
              "subprocess.Popen", "pty.spawn"}
_SIGNALS = {"os.kill", "os.killpg", "signal.pthread_kill"}
_LIMITS = {"resource.setrlimit", "resource.prlimit"}


def cell_hash(source):
    """The name under which a cell's code appears in the records."""
    return hashlib.sha1(source.strip().encode()).hexdigest()[:16]


def _roots(readable):
    return tuple(os.path.join(os.path.realpath(p), "") for p in readable if p)


def install(emit, shell):
    """Install the hook; ``emit(mime, payload)`` publishes a cell's records."""
    import krylov_ref

    tmp = tempfile.gettempdir()
    scratch_dev = os.stat(tmp).st_dev
    cwd = _roots([os.getcwd()])
    # Writable: the scratch folder (the tmpfs at /tmp in the sandbox: only
    # what lies on its file system, not a path of the host's that merely
    # starts with /tmp), the configuration folders, and devices.
    writable = _roots(["/dev", os.environ.get("MPLCONFIGDIR"), os.environ.get("IPYTHONDIR")])
    readable = writable + cwd + _roots([sys.prefix, sys.base_prefix, sys.exec_prefix,
                                        os.path.dirname(krylov_ref.__file__), "/usr", "/etc",
                                        "/proc", "/sys", "/lib", "/lib64", "/bin"])
    tmp_root = _roots([tmp])
    own = os.getpid()
    records = []
    seen = set()
    # The hook must never fail or recurse: it only reads, and records plain values.
    busy = [False]

    def inside(path, roots):
        return (path + os.sep).startswith(roots)

    def on_scratch(path):
        # A path of the scratch folder has its folder there (a host path that
        # merely starts with /tmp, such as a course kept under /tmp, has none).
        if not inside(path, tmp_root) or inside(path, cwd):
            return False
        try:
            return os.stat(os.path.dirname(path)).st_dev == scratch_dev
        except OSError:
            return False

    def may_write(path):
        return inside(path, writable) or on_scratch(path)

    def may_read(path):
        return inside(path, readable) or on_scratch(path)

    def where(path):
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, (str, os.PathLike)):
            return None
        return os.path.realpath(os.fspath(path))

    def what(event, args):
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            path = where(path)
            if path is None:
                return None
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                     (isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writes and not may_write(path):
                return f"tried to write {path}"
            if not writes and not may_read(path):
                return f"tried to read {path}"
            return None
        if event in ("os.listdir", "os.scandir"):
            path = where(args[0] if args and args[0] is not None else ".")
            if path is not None and not may_read(path):
                return f"tried to list {path}"
            return None
        if event == "sqlite3.connect":
            path = args[0] if args else None
            if isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path) != ":memory:":
                path = where(path)
                if not may_write(path):
                    return f"tried to open the database {path}"
            return None
        if event in _PATH_WRITES:
            paths = [where(a) for a in args[:2]]
            outside = [p for p in paths if p is not None and not may_write(p)]
            return f"tried to change {outside[0]} ({event})" if outside else None
        if event in _NETWORK:
            address = args[1] if len(args) > 1 else "?"
            return f"tried to use the network ({event} {address!r})"
        if event in _PROCESSES:
            return f"started a process ({event})"
        if event in _SIGNALS:
            target = args[0] if args else None
            if event == "os.kill" and target == own:
                return None
            return f"tried to signal {target!r} ({event})"
        if event in _LIMITS:
            return f"tried to change a resource limit ({event})"
        return None

    def cells_on_stack():
        found = []
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            entry = linecache.cache.get(name)
            if entry and ("ipykernel_" in name or name.startswith("<ipython-input")):
                digest = cell_hash("".join(entry[2]))
                if digest not in found:
                    found.append(digest)
            frame = frame.f_back
        return found

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            text = what(event, args)
            if text and len(records) < MAX_EVENTS:
                cells = cells_on_stack()
                key = (text, tuple(cells))
                if cells and key not in seen:
                    seen.add(key)
                    records.append({"what": text, "cells": cells})
        except Exception:  # noqa: BLE001 - an audit hook that raised would block the event
            records.append({"what": f"(the audit hook failed on {event})", "cells": []})
        finally:
            busy[0] = False

    def publish(result=None):
        if records:
            emit(MIME_AUDIT, {"events": list(records)})
            del records[:]
            seen.clear()

    def file_too_large(signum, frame):
        # RLIMIT_FSIZE was reached (the write itself then fails with EFBIG).
        if len(records) < MAX_EVENTS:
            cells = []
            while frame is not None:
                entry = linecache.cache.get(frame.f_code.co_filename)
                if entry and "ipykernel_" in frame.f_code.co_filename:
                    cells.append(cell_hash("".join(entry[2])))
                frame = frame.f_back
            records.append({"what": "wrote a file larger than the limit (c.Sandbox.file_size_mb)",
                            "cells": cells})

    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, file_too_large)
    sys.addaudithook(hook)
    if shell is not None:
        shell.events.register("post_run_cell", publish)
    return publish

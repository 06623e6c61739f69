"""The sandbox every graded kernel runs in (bubblewrap, with resource limits).

nbgrader runs a submission's code in a Jupyter kernel with every right of
the grading user. Here, the kernel that autograding starts is wrapped:

    prlimit --as --cpu --nproc --fsize --nofile --      (util-linux: the limits)
    bwrap --unshare-{ipc,pid,net,uts} --die-with-parent --new-session --clearenv
          read-only: the system (/usr, a few files of /etc), the Python
                     installation, the virtual environment, the course package,
                     the submission's own folder (the kernel's working directory)
          writable:  /tmp, a size-limited tmpfs (HOME, IPython and matplotlib
                     caches), and the folder of the kernel's sockets
          [setpriv --reuid=U --regid=U ...]   when grading as root: an unprivileged
                                              uid of its own for each kernel
          python -m ipykernel_launcher -f <connection file>

The kernel talks to nbgrader over Unix sockets (the ``ipc`` transport) in a
folder of its own, so it needs no network at all: in its network namespace
even loopback leads nowhere. Its process namespace dies with it, taking
every process it started. Nothing of the course folder (solutions/, other
submissions, the gradebook, the exchange) exists inside, nor does the
instructor's home, nor the grader's environment variables (a gradebook URL
with a password, say).

Why these tools: bubblewrap is the maintained, unprivileged sandbox that
Flatpak is built on (Debian's ``bubblewrap``); it needs no daemon and works
for an ordinary user where unprivileged user namespaces are allowed, and as
root. ``prlimit`` and ``setpriv`` are util-linux. The limits are per process
(``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``) and, for
the number of processes, per user: hence a uid of its own for each kernel
when the grader is root (root is exempt from ``RLIMIT_NPROC``), and a user
namespace of its own otherwise.

Nothing here is used outside grading: a student's JupyterLab and nbgrader's
Validate button start ordinary kernels.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

__all__ = ["Sandbox", "SandboxUnavailable", "SandboxedKernelManager", "OPT_OUT", "describe_exit",
           "prepare_matplotlib_cache"]

# The one setting that turns the sandbox off (docs/instructor.md).
OPT_OUT = "c.Sandbox.enabled = False"

# Environment variables a graded kernel may see; everything else is dropped.
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "MKL_NUM_THREADS", "XLA_FLAGS", "JAX_PLATFORMS", "JAX_ENABLE_X64")
PASSED_PREFIXES = ("KRYLOV_REF_",)
# What a Python kernel needs of /etc.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/fonts", "/etc/nsswitch.conf", "/etc/mime.types")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Where the submission's folder appears inside (nothing of the host's paths does).
WORKDIR = "/home/student"
# The kernel's Unix sockets, in the sandbox's scratch tmpfs: the grader
# reaches them through /proc/<pid>/root, so no host folder is writable inside.
SOCKETS = "/tmp/kernel-ipc"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start here; the message says why and what to do."""


class Sandbox(LoggingConfigurable):
    """Settings of the graded kernels' sandbox (``c.Sandbox.*`` in nbgrader_config.py)."""

    enabled = Bool(
        True, help="Run every graded kernel in the sandbox. Turning it off lets a "
        "submission's code read and write whatever the grading user can: only for a "
        "machine where that does not matter."
    ).tag(config=True)
    memory_mb = Int(4096, help="Address-space limit of each process (RLIMIT_AS), in MiB.").tag(config=True)
    cpu_seconds = Int(600, help="CPU-time limit of each process (RLIMIT_CPU), in seconds. "
                      "The wall-clock limit per cell is ExecutePreprocessor.timeout.").tag(config=True)
    processes = Int(256, help="Processes and threads the kernel may have at once (RLIMIT_NPROC).").tag(config=True)
    file_size_mb = Int(64, help="Largest file the kernel may write (RLIMIT_FSIZE), in MiB.").tag(config=True)
    open_files = Int(256, help="Open file descriptors per process (RLIMIT_NOFILE).").tag(config=True)
    scratch_mb = Int(256, help="Size of the kernel's writable /tmp (a tmpfs), in MiB.").tag(config=True)
    child_processes = Int(16, help="Processes the kernel may have started and still running at "
                          "once; more, and the whole sandbox is stopped (a fork bomb), within "
                          "watch_seconds.").tag(config=True)
    watch_seconds = Float(0.2, help="How often the grader looks at the sandbox's processes "
                          "(their number, and their memory together).").tag(config=True)
    uid_base = Int(1_000_000, help="When grading as root, each kernel runs as uid_base + "
                   "the grading process's pid (an unprivileged uid of its own).").tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable.").tag(config=True)

    def limits(self):
        """The prlimit options, in the order prlimit takes them."""
        mib = 1024 * 1024
        return [f"--as={self.memory_mb * mib}", f"--cpu={self.cpu_seconds}",
                f"--nproc={self.processes}", f"--fsize={self.file_size_mb * mib}",
                f"--nofile={self.open_files}"]

    def ensure_available(self):
        """Raise :class:`SandboxUnavailable` unless a sandboxed process can start here."""
        problem = _probe(self.bwrap, os.geteuid() == 0)
        if problem:
            raise SandboxUnavailable(unavailable_message(problem))

    def command(self, argv, *, cwd, kernel_dir, env):
        """The command that runs ``argv`` (the kernel) in the sandbox.

        ``kernel_dir`` (the connection file, the grading key, matplotlib's
        font list) is seen read-only at its own path; ``cwd`` (the
        submission's folder) read-only at :data:`WORKDIR` plus its name.
        """
        root = os.geteuid() == 0
        kernel_dir = os.path.realpath(kernel_dir)
        cmd = ["prlimit", *self.limits(), "--", self.bwrap,
               "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
        if not root:
            # An unprivileged grader: a user namespace of its own, where
            # RLIMIT_NPROC counts the sandbox's processes only.
            cmd.append("--unshare-user")
        cmd += _system_binds()
        cmd += ["--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(self.scratch_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        inside = os.path.join(WORKDIR, os.path.basename(os.path.realpath(cwd))) if cwd else None
        binds = [("--ro-bind-try", path, path) for path in ETC_FILES]
        binds += [("--ro-bind", path, path) for path in _python_paths()]
        binds.append(("--ro-bind", kernel_dir, kernel_dir))
        if cwd:
            binds.append(("--ro-bind", os.path.realpath(cwd), inside))
        # bwrap makes the folders above a bound path private (0700): make
        # them traversable, since the kernel may run as another uid.
        for parent in _parents(dest for _, _, dest in binds):
            cmd += ["--perms", "0755", "--dir", parent]
        for option, source, dest in binds:
            cmd += [option, source, dest]
        # matplotlib's configuration folder is writable scratch; its font
        # list is the one built once for the grading run.
        cmd += ["--perms", "0777", "--dir", "/tmp/matplotlib"]
        mpl = os.path.join(kernel_dir, "matplotlib")
        for name in sorted(os.listdir(mpl)) if os.path.isdir(mpl) else ():
            cmd += ["--symlink", os.path.join(mpl, name), f"/tmp/matplotlib/{name}"]
        if cwd:
            cmd += ["--chdir", inside]
        # bwrap's own root and /dev are writable tmpfs (without a size limit)
        # for an unprivileged grader, whose uid owns them: freeze both.
        cmd += ["--remount-ro", "/", "--remount-ro", "/dev"]
        for name, value in sorted(sandbox_env(env).items()):
            cmd += ["--setenv", name, value]
        if root:
            cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                    "--cap-add", "CAP_SETPCAP", "--", "setpriv", *_setpriv_options(self.uid())]
        else:
            cmd.append("--")
        return cmd + list(argv)

    def uid(self):
        """The uid a kernel of this process runs as, when grading as root."""
        return self.uid_base + os.getpid()


def sandbox_env(env):
    """The environment inside the sandbox: the kernel's needs, and nothing of the grader's."""
    path = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
    inside = {"PATH": path, "HOME": "/tmp/home", "TMPDIR": "/tmp",
              "IPYTHONDIR": "/tmp/ipython", "MPLCONFIGDIR": "/tmp/matplotlib",
              "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "JUPYTER_DATA_DIR": "/tmp/jupyter",
              "JUPYTER_CONFIG_DIR": "/tmp/jupyter", "PYTHONDONTWRITEBYTECODE": "1",
              "LANG": "C.UTF-8"}
    for name, value in (env or {}).items():
        if name in PASSED_ENV or name.startswith(PASSED_PREFIXES):
            inside[name] = value
    return inside


def _parents(paths):
    """Every folder above ``paths`` but /tmp and /, parents first."""
    found = set()
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in ("/", "/tmp", ""):
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda p: (p.count("/"), p))


def _setpriv_options(uid):
    return [f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


@functools.lru_cache(maxsize=None)
def _system_binds():
    binds = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            binds += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds += ["--ro-bind", path, path]
    return tuple(binds)


@functools.lru_cache(maxsize=None)
def _python_paths():
    """Folders the kernel's Python needs, read-only: the installation, the
    environment, and the course package (an editable install lives in the
    course folder, of which only the package is let in)."""
    import krylov_ref

    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix, sys.prefix,
                                           sys.exec_prefix)}
    paths.add(os.path.dirname(os.path.realpath(os.path.dirname(krylov_ref.__file__))) + "/krylov_ref")
    paths.add(os.path.realpath(sys.executable))
    # Longest first is not needed (no path is inside another that is bound
    # differently), but a stable order keeps the command reproducible.
    return tuple(sorted(p for p in paths if os.path.exists(p)))


@functools.lru_cache(maxsize=None)
def _probe(bwrap, root):
    """'' if a sandboxed ``true`` runs, else what went wrong."""
    missing = [tool for tool in (bwrap, "prlimit") + (("setpriv",) if root else ())
               if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    cmd = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
           "--die-with-parent", "--new-session", "--clearenv"]
    if not root:
        cmd.append("--unshare-user")
    cmd += list(_system_binds()) + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if root:
        cmd += ["--", "setpriv", *_setpriv_options(65534), "true"]
    else:
        cmd += ["--", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} could not run: {exc}"
    if proc.returncode:
        return f"{bwrap} failed: {proc.stderr.strip()[-300:] or f'exit code {proc.returncode}'}"
    return ""


@functools.lru_cache(maxsize=None)
def _font_cache():
    """A folder holding matplotlib's font list, built once per grading process.

    Each kernel starts with an empty configuration folder; without this,
    matplotlib would rebuild the list (running fc-list) in every kernel.
    """
    folder = tempfile.mkdtemp(prefix="krylov-mpl-cache-")
    # Removed when the grading process ends, else /tmp keeps one per run.
    atexit.register(shutil.rmtree, folder, True)
    env = dict(os.environ, MPLCONFIGDIR=folder, MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                   capture_output=True, timeout=300, check=False)
    return folder


def prepare_matplotlib_cache(folder):
    """Create ``folder`` as a matplotlib configuration folder with the font list in it."""
    os.makedirs(folder, exist_ok=True)
    source = _font_cache()
    for name in os.listdir(source):
        if name.startswith("fontlist") and name.endswith(".json"):
            shutil.copy(os.path.join(source, name), os.path.join(folder, name))


def describe_exit(code, sandbox=None):
    """Why a kernel process ended, from its exit status (None: still running)."""
    import signal

    if code is None:
        return "it stopped answering"
    signum = -code if code < 0 else code - 128 if code > 128 else None
    limits = {}
    if sandbox is not None:
        limits = {signal.SIGXCPU: f"the CPU-time limit of {sandbox.cpu_seconds} s "
                                  "(c.Sandbox.cpu_seconds) was reached",
                  signal.SIGXFSZ: f"the file-size limit of {sandbox.file_size_mb} MiB "
                                  "(c.Sandbox.file_size_mb) was reached",
                  signal.SIGKILL: "it was killed (out of memory, or by the system)"}
    if signum in limits:
        return limits[signum]
    if signum:
        try:
            return f"signal {signal.Signals(signum).name}"
        except ValueError:
            return f"signal {signum}"
    return f"exit code {code}"


def unavailable_message(problem):
    return (
        f"Refusing to grade: the sandbox for graded code cannot start ({problem}). "
        "A submission's code would otherwise run with every right of the grading user. "
        "Install bubblewrap and util-linux (Debian/Ubuntu: `sudo apt-get install bubblewrap "
        "util-linux`; Fedora: `sudo dnf install bubblewrap util-linux`); as an ordinary user "
        "the kernel also needs unprivileged user namespaces (Ubuntu 24.04 restricts them with "
        "AppArmor: see docs/instructor.md, 'The sandbox'). On a machine where grading "
        f"unsandboxed is acceptable, opt out explicitly with `{OPT_OUT}` in nbgrader_config.py.")


def _sandbox_processes(launcher_pid):
    """(kernel, others): the kernel process, and the other processes of the
    sandbox started under ``launcher_pid`` (bwrap's own processes excluded)."""
    import psutil

    try:
        family = psutil.Process(launcher_pid).children(recursive=True)
    except psutil.Error:
        return None, []
    kernel, others = None, []
    for process in family:
        try:
            name = process.name()
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if name == "bwrap":
            continue
        if kernel is None and any("ipykernel_launcher" in part for part in cmdline):
            kernel = process
        else:
            others.append(process)
    return kernel, others


def _kill(processes):
    import psutil

    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            continue  # it ended on its own meanwhile
    psutil.wait_procs(processes, timeout=5)


class _Watchdog(threading.Thread):
    """Stops the whole sandbox when it holds too many processes or too much
    memory: the per-process limits cannot bound a family of processes."""

    def __init__(self, launcher_pid, sandbox, events):
        super().__init__(daemon=True, name="krylov-sandbox-watchdog")
        self.launcher_pid, self.sandbox, self.events = launcher_pid, sandbox, events
        self.stopped = threading.Event()

    def run(self):
        import psutil

        while not self.stopped.wait(self.sandbox.watch_seconds):
            kernel, others = _sandbox_processes(self.launcher_pid)
            if kernel is None and not others:
                continue
            family = ([kernel] if kernel else []) + others
            reason = None
            if len(others) > self.sandbox.child_processes:
                reason = (f"it had started {len(others)} processes (more than "
                          f"c.Sandbox.child_processes = {self.sandbox.child_processes}): the "
                          "sandbox was stopped")
            else:
                rss = 0
                for process in family:
                    try:
                        rss += process.memory_info().rss
                    except psutil.Error:
                        continue
                if rss > self.sandbox.memory_mb * 1024 * 1024:
                    reason = (f"its processes used {rss / 2**20:.0f} MiB of memory together (more "
                              f"than c.Sandbox.memory_mb = {self.sandbox.memory_mb}): the sandbox "
                              "was stopped")
            if reason:
                self.events.append(reason)
                _kill(others + ([kernel] if kernel else []))


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the :class:`Sandbox`.

    The kernel's channels are Unix sockets (the ``ipc`` transport) in the
    sandbox's own scratch tmpfs; the grader reaches them through
    ``/proc/<pid>/root`` of the sandbox. ``sandbox_dir`` (set before the
    kernel starts) holds the connection file, read-only inside.
    """

    sandbox_dir = Unicode("", help="Folder of the kernel's connection file (read-only inside).")
    sandbox_events = List(help="What the sandbox stopped or cleaned up, in words.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._sandbox = Sandbox(parent=self.parent, config=self.config)

    async def _async_pre_start_kernel(self, **kw):
        if not self.sandbox_dir:
            self.sandbox_dir = tempfile.mkdtemp(prefix="krylov-kernel-")
        os.chmod(self.sandbox_dir, 0o755)
        self.connection_file = os.path.join(self.sandbox_dir, "kernel.json")
        self.ip = SOCKETS  # as the kernel sees it; the grader's view is set after launch
        return await super()._async_pre_start_kernel(**kw)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if os.geteuid() == 0:
            os.chown(self.connection_file, self._sandbox.uid(), self._sandbox.uid())

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        launch = self._launch_args or {}
        return self._sandbox.command(argv, cwd=launch.get("cwd"), kernel_dir=self.sandbox_dir,
                                     env=launch.get("env"))

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        launcher = self.provisioner.process.pid
        self.ip = f"/proc/{_sandbox_root_pid(launcher)}/root{SOCKETS}"
        self._watchdog = _Watchdog(launcher, self._sandbox, self.sandbox_events)
        self._watchdog.start()

    _launch_kernel = _async_launch_kernel

    def scratch_use(self):
        """How full the sandbox's /tmp is (0 to 1), or None once it is gone."""
        try:
            stat = os.statvfs(self.ip.rsplit("/tmp/", 1)[0] + "/tmp")
        except OSError:
            return None
        return 1 - stat.f_bfree / stat.f_blocks if stat.f_blocks else None

    def leftovers(self):
        """Stop and report the processes the kernel started that are still running."""
        process = getattr(self.provisioner, "process", None)
        if process is None:
            return 0
        _, others = _sandbox_processes(process.pid)
        if others:
            _kill(others)
        return len(others)

    async def _async_shutdown_kernel(self, now=False, restart=False):
        watchdog = getattr(self, "_watchdog", None)
        if watchdog is not None:
            watchdog.stopped.set()
        left = self.leftovers()
        if left:
            self.sandbox_events.append(f"{left} process(es) it started were still running at the "
                                       "end: stopped with the sandbox")
        full = self.scratch_use()
        if full is not None and full > 0.9:
            self.sandbox_events.append(f"it filled its scratch folder to {100 * full:.0f}% of "
                                       f"c.Sandbox.scratch_mb = {self._sandbox.scratch_mb} MiB")
        await super()._async_shutdown_kernel(now=now, restart=restart)

    shutdown_kernel = _async_shutdown_kernel

    async def _async_interrupt_kernel(self):
        # The kernel leads a session of its own inside the sandbox, out of
        # reach of a signal to the launcher's process group: ask it over the
        # control channel, and ipykernel signals itself.
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart=False):
        watchdog = getattr(self, "_watchdog", None)
        if watchdog is not None:
            watchdog.stopped.set()
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self.sandbox_dir:
            shutil.rmtree(self.sandbox_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def _sandbox_root_pid(launcher_pid, wait=10.0):
    """The pid of a process whose root is the sandbox's (bwrap's own init)."""
    import time

    import psutil

    deadline = time.monotonic() + wait
    while True:
        try:
            children = psutil.Process(launcher_pid).children()
        except psutil.Error:
            children = []
        if children:
            return children[0].pid
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start: bwrap started no process")
        time.sleep(0.01)

"""What every measurement family needs: running a child process, reading its JSON line, small
statistics, and a pinned pip venv under the benchmark cache."""
import glob
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MIB = 1024 * 1024


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Run:
    """A finished child process: rc, stdout, stderr, peak RSS (bytes), wall and CPU time (s)."""

    def __init__(self, rc, stdout, stderr, maxrss, wall, cpu=0.0):
        self.rc, self.stdout, self.stderr, self.maxrss, self.wall = rc, stdout, stderr, maxrss, wall
        self.cpu = cpu

    def last_error_line(self):
        """The last line of stderr (else of stdout): where tools put their one-line error."""
        for text in (self.stderr, self.stdout):
            lines = [l.strip() for l in text.splitlines() if l.strip()]
            if lines:
                return lines[-1][:300]
        return f"exit status {self.rc}"


def run(cmd, env=None, timeout=900, cwd=None):
    """Runs cmd, returning a Run with the child's own peak RSS and CPU time (wait4's rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    env={**os.environ, **(env or {})}, cwd=cwd)
        except OSError as e:
            return Run(127, "", str(e), 0, 0.0)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if proc.returncode == -9:
            stderr += f"\nkilled after {timeout} s"
        return Run(proc.returncode, out.read().decode(errors="replace"), stderr,
                   rusage.ru_maxrss * 1024, wall, rusage.ru_utime + rusage.ru_stime)


def json_lines(text):
    """The JSON objects among the lines of text."""
    objs = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                objs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return objs


def timing_of(text):
    """The last JSON line carrying median and min milliseconds (keys with or without the _ms
    suffix), as {median_ms, min_ms, max_ms, info: the whole line}; else None."""
    for obj in reversed(json_lines(text)):
        got = {}
        for key in ("median", "min", "max"):
            for k in (f"{key}_ms", key):
                if isinstance(obj.get(k), (int, float)):
                    got[f"{key}_ms"] = float(obj[k])
                    break
        if "median_ms" in got and "min_ms" in got:
            got["info"] = {k: v for k, v in obj.items() if k != "times_ms"}
            return got
    return None


def median_of(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def file_hash(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def find_executable(build_dir, name):
    for path in sorted(glob.glob(os.path.join(build_dir, "**", name), recursive=True)):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def dir_size(path):
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            p = os.path.join(root, n)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def pip_venv(cache, name, requirements, system_site_packages=False):
    """A venv under cache/name with exactly `requirements` (pinned 'pkg==version' strings)
    installed from PyPI by Debian's python3, made once and reused while the list is the same.
    Returns (python path, info dict) or (None, reason).  info has the install's seconds and the
    venv's size, measured when it was made."""
    prefix = os.path.join(cache, name)
    python = os.path.join(prefix, "bin", "python")
    stamp = os.path.join(prefix, "installed.json")
    want = {"requirements": sorted(requirements), "system_site_packages": system_site_packages}
    try:
        with open(stamp) as f:
            info = json.load(f)
        if {k: info.get(k) for k in want} == want and os.path.exists(python):
            return python, info
    except (OSError, json.JSONDecodeError):
        pass
    shutil.rmtree(prefix, ignore_errors=True)
    log(f"installing {' '.join(requirements)} (pip) in {prefix}")
    t0 = time.monotonic()
    cmd = ["/usr/bin/python3", "-m", "venv", prefix]
    if system_site_packages:
        cmd.insert(3, "--system-site-packages")
    r = run(cmd, timeout=300)
    if r.rc != 0:
        return None, f"python3 -m venv failed: {r.last_error_line()} (apt-get install python3-venv)"
    r = run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-input", *requirements], timeout=1800)
    if r.rc != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        return None, f"pip install {' '.join(requirements)} failed: {r.last_error_line()}"
    info = {**want, "install_s": round(time.monotonic() - t0, 1),
            "size_bytes": dir_size(prefix), "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    with open(stamp, "w") as f:
        json.dump(info, f, indent=2)
    log(f"{name}: {info['install_s']} s, {info['size_bytes'] / MIB:.0f} MiB")
    return python, info


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def git_commit():
    r = run(["git", "-C", SOURCE_ROOT, "rev-parse", "--short", "HEAD"], timeout=30)
    return r.stdout.strip() if r.rc == 0 else None

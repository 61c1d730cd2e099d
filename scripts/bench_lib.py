"""Helpers shared by scripts/bench-compare and scripts/bench-failover.

Starts and stops local clusters of Flotilla and etcd on 127.0.0.1, finds their leaders, runs
`flotilla bench`, and rewrites marked sections of docs/benchmarks.md. Every wait has a deadline;
every process started here is killed on exit.
"""

import atexit
import base64
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ETCD = "/usr/bin/etcd"
REDIS = "/usr/bin/redis-server"
# How long a cluster may take to elect its first leader, in seconds.
STARTUP_TIMEOUT_S = 30
# How long one status request may take, in seconds.
STATUS_TIMEOUT_S = 0.5
# A `flotilla bench` run may take this much longer than its own duration, in seconds.
BENCH_SLACK_S = 120

_children = []


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def load():
    """The 1, 5 and 15 minute load averages, as text."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _cleanup():
    for proc in _children:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def spawn(args, logfile):
    out = open(logfile, "ab")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    _children.append(proc)
    return proc


def ensure_etcd():
    ensure_debian_package(ETCD, "etcd-server")


def ensure_redis():
    """redis-server for the ceiling runs; False when it cannot be installed."""
    try:
        ensure_debian_package(REDIS, "redis-server")
    except (OSError, subprocess.CalledProcessError) as error:
        log(f"NOTICE: could not install redis-server ({error})")
        return False
    return True


def ensure_debian_package(path, package):
    if os.path.exists(path):
        return
    log(f"installing Debian's {package} ({path} is missing)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)


def build_flotilla(workdir, build=True):
    """A private copy of the release binary, so that others rebuilding it cannot change it."""
    if build:
        subprocess.run(
            ["cargo", "build", "--release", "-p", "flotilla", "-q"], cwd=ROOT, check=True
        )
    os.makedirs(os.path.join(workdir, "bin"), exist_ok=True)
    exe = os.path.join(workdir, "bin", "flotilla")
    shutil.copy2(os.path.join(ROOT, "target", "release", "flotilla"), exe)
    return exe


def finish(workdir, keep):
    """Removes the run's folder (data folders of both systems: gigabytes) after a run that
    succeeded; a failed run keeps it, and its logs, for a look."""
    if keep:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def git_commit():
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def machine():
    """Facts about this machine, as (name, value) pairs."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    etcd_version = subprocess.run(
        [ETCD, "--version"], capture_output=True, text=True
    ).stdout.splitlines()
    disk = subprocess.run(
        ["df", "-h", "--output=source,fstype,size", tempfile.gettempdir()],
        capture_output=True,
        text=True,
    ).stdout.splitlines()[-1]
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} logical cores"),
        ("memory", f"{mem_kb / 1024 / 1024:.0f} GiB"),
        ("kernel", platform.platform()),
        ("data folders", f"{tempfile.gettempdir()} ({' '.join(disk.split())})"),
        ("etcd", etcd_version[0] if etcd_version else "unknown"),
        ("flotilla", f"commit {git_commit()}, release build"),
    ]


# ---------------------------------------------------------------- Flotilla


def resp_call(port, *args, timeout=STATUS_TIMEOUT_S):
    """One RESP command; returns the reply's raw text, or None when the node does not answer."""
    wire = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        wire += f"${len(a)}\r\n".encode() + a + b"\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(wire)
            data = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if data[:1] in (b"+", b"-", b":") and data.endswith(b"\r\n"):
                    break
                if data[:1] == b"$":
                    head, _, rest = data.partition(b"\r\n")
                    if len(rest) >= int(head[1:]) + 2:
                        break
            return data.decode(errors="replace")
    except (OSError, ValueError):
        return None


class FlotillaNodes:
    """`n` `flotilla node` processes (not the supervisor: the failover needs their pids)."""

    def __init__(self, exe, n, workdir, base, node_args=()):
        self.exe, self.n, self.workdir = exe, n, workdir
        self.resp = [base + i for i in range(1, n + 1)]
        self.http = [base + 100 + i for i in range(1, n + 1)]
        self.peer = [base + 200 + i for i in range(1, n + 1)]
        self.node_args = list(node_args)
        self.procs = [None] * n

    def endpoint(self, i):
        return f"127.0.0.1:{self.resp[i]}"

    def args(self, j):
        """The command line of node j (from 0)."""
        peers = ",".join(f"{k + 1}=127.0.0.1:{self.peer[k]}" for k in range(self.n) if k != j)
        return [
            self.exe,
            "node",
            f"--id={j + 1}",
            f"--resp-addr=127.0.0.1:{self.resp[j]}",
            f"--http-addr=127.0.0.1:{self.http[j]}",
            f"--peer-addr=127.0.0.1:{self.peer[j]}",
            f"--data={self.workdir}/flotilla{j + 1}",
            f"--web-dir={self.workdir}/no-web",
            "--token=bench",
        ] + ([f"--peers={peers}"] if peers else []) + self.node_args

    def start(self, i=None):
        for j in range(self.n) if i is None else [i]:
            self.procs[j] = spawn(self.args(j), f"{self.workdir}/flotilla{j + 1}.log")

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def pid(self, i):
        return self.procs[i].pid

    def server_pids(self):
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def leader(self):
        """The index of the node that leads and that every running node follows, or None."""
        leaders = set()
        for i in range(self.n):
            if self.procs[i] is None or self.procs[i].poll() is not None:
                continue
            info = resp_call(self.resp[i], "INFO", "raft")
            if info is None:
                return None
            fields = dict(
                line.split(":", 1) for line in info.splitlines() if ":" in line
            )
            leaders.add(fields.get("leader", "").strip())
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        return int(leader) - 1 if leader.isdigit() else None

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


class FlotillaCluster(FlotillaNodes):
    """`flotilla cluster` (the supervisor), on non-default ports."""

    def start(self, i=None):
        base = self.resp[0] - 1
        args = [
            self.exe,
            "cluster",
            f"--nodes={self.n}",
            f"--data={self.workdir}/flotilla",
            f"--resp-port-base={base}",
            f"--http-port-base={base + 100}",
            f"--peer-port-base={base + 200}",
            f"--web-dir={self.workdir}/no-web",
            "--token=bench",
            "--no-restart",
        ] + (["--"] + self.node_args if self.node_args else [])
        self.command = " ".join(args[1:])
        self.supervisor = spawn(args, f"{self.workdir}/flotilla-cluster.log")
        self.procs = [self.supervisor] * self.n

    def server_pids(self):
        return children(self.supervisor.pid)

    def stop(self):
        if self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.supervisor.kill()


# ---------------------------------------------------------------- etcd


class RedisServer:
    """One redis-server: the ceiling a single RESP process reaches on this machine with
    `flotilla bench` (no replication). `durable`: append-only file with `appendfsync always`
    (an fsync before each reply batch); otherwise memory only."""

    def __init__(self, workdir, port, durable):
        self.workdir = f"{workdir}/redis-{'aof' if durable else 'mem'}"
        self.port = port
        self.durable = durable
        self.proc = None

    def args(self):
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.durable
            else ["--appendonly", "no"]
        )
        return [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", self.workdir] + persistence

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.proc = spawn(self.args(), f"{self.workdir}.log")
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if resp_call(self.port, "PING") is not None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    def server_pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def http_post(port, path, body, timeout=STATUS_TIMEOUT_S):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


class EtcdCluster:
    """`n` etcd members, each with its own data folder, fsync on (the default)."""

    def __init__(self, n, workdir, base, heartbeat_ms=None, election_ms=None):
        self.n, self.workdir = n, workdir
        self.client = [base + i for i in range(1, n + 1)]
        self.peerp = [base + 100 + i for i in range(1, n + 1)]
        self.timing = []
        if heartbeat_ms:
            self.timing += [f"--heartbeat-interval={heartbeat_ms}"]
        if election_ms:
            self.timing += [f"--election-timeout={election_ms}"]
        self.procs = [None] * n
        self.started = False

    def endpoint(self, i):
        return f"127.0.0.1:{self.client[i]}"

    def args(self, i):
        cluster = ",".join(
            f"m{k + 1}=http://127.0.0.1:{self.peerp[k]}" for k in range(self.n)
        )
        return [
            ETCD,
            f"--name=m{i + 1}",
            f"--data-dir={self.workdir}/etcd{i + 1}",
            f"--listen-client-urls=http://127.0.0.1:{self.client[i]}",
            f"--advertise-client-urls=http://127.0.0.1:{self.client[i]}",
            f"--listen-peer-urls=http://127.0.0.1:{self.peerp[i]}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{self.peerp[i]}",
            f"--initial-cluster={cluster}",
            "--initial-cluster-token=flotilla-bench",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-level=warn",
        ] + self.timing

    def start(self, i=None):
        for j in range(self.n) if i is None else [i]:
            self.procs[j] = spawn(self.args(j), f"{self.workdir}/etcd{j + 1}.log")

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def pid(self, i):
        return self.procs[i].pid

    def server_pids(self):
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def leader(self):
        """The index of the member that leads and that every running member follows."""
        ids, leaders = {}, set()
        for i in range(self.n):
            if self.procs[i] is None or self.procs[i].poll() is not None:
                continue
            status = http_post(self.client[i], "/v3/maintenance/status", {})
            if not status or "header" not in status:
                return None
            ids[status["header"]["member_id"]] = i
            leaders.add(status.get("leader"))
        if len(leaders) != 1:
            return None
        return ids.get(leaders.pop())

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def etcd_put(port, key, value, timeout=STATUS_TIMEOUT_S):
    body = {
        "key": base64.b64encode(key.encode()).decode(),
        "value": base64.b64encode(value.encode()).decode(),
    }
    return http_post(port, "/v3/kv/put", body, timeout) is not None


def wait_leader(cluster, timeout_s=STARTUP_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        leader = cluster.leader()
        if leader is not None:
            return leader
        time.sleep(0.05)
    raise RuntimeError(f"no leader within {timeout_s} s; logs in {cluster.workdir}")


# ---------------------------------------------------------------- runs


def bench(exe, args, expect_s, server_pids=()):
    """Runs `flotilla bench ARGS --json`; returns its JSON object, with the CPU seconds the
    servers (`server_pids`) and the load generator used during the run added as
    `server_cpu_s` and `client_cpu_s`."""
    cmd = [exe, "bench", "--json"] + args
    servers_before = cpu_seconds(server_pids)
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=expect_s + BENCH_SLACK_S
    )
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    servers_after = cpu_seconds(server_pids)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["server_cpu_s"] = servers_after - servers_before
    result["client_cpu_s"] = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    return result


def cpu_seconds(pids):
    """User + system CPU seconds used so far by these processes (0 for any that is gone)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def children(pid):
    """The pids of the direct children of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return found


def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def replace_section(path, name, text):
    """Replaces what lies between the markers of section `name` in `path` (appending the
    section, markers and all, when it is not there yet)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        doc = head + block + tail
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)

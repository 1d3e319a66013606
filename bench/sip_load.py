#!/usr/bin/env python3
"""SIP load benchmark for Tsunagu (a program, not a test).

Builds Tsunagu in release mode, starts `tsunagu serve --demo` on a fresh temporary data
directory on 127.0.0.1, plays an agent phone (extension 201) and a carrier with SIPp, and
prints two tables:

  (a) signalling only: short calls at stepped call rates (response times, CPU, RSS);
  (b) long calls with RTP both ways at stepped concurrency (packets/s, loss, CPU, RSS/call).

Python 3 standard library only. Everything listens on 127.0.0.1. Every loop is bounded in count
and time; all started processes are killed at the end, on error and on Ctrl-C.

    python3 bench/sip_load.py            # full run, about 10 minutes after the build
    python3 bench/sip_load.py --quick    # small numbers, about 1 minute after the build

See bench/README.md for what each column means.
"""

import argparse
import glob
import http.cookiejar
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
REGISTER_XML = ROOT / "tests" / "sipp" / "register.xml"
ANSWER_XML = BENCH / "answer_fast.xml"
CARRIER_SHORT_XML = BENCH / "carrier_short.xml"
CARRIER_RTP_XML = BENCH / "carrier_rtp.xml"
DID = "0312345678"
AGENT = "201"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
RTP_PORTS = (20000, 29999)  # Tsunagu's relay range; SIPp's ports are kept out of it
PTIME_PPS = 50  # 20 ms G.711 packets
RUST_LOG = ["warn"]  # Tsunagu's log filter (--rust-log)
MAX_WAIT = [50.0]  # --max-wait

FULL = {
    "cps_steps": [50, 100, 200, 300, 400, 500, 600, 800],
    "cps_step_s": 15,
    "rtp_levels": [50, 100, 200, 300, 500],
    "rtp_hold_s": 20,
    "rtp_ramp_cps": 100,
}
QUICK = {
    "cps_steps": [20, 50, 100],
    "cps_step_s": 5,
    "rtp_levels": [10, 40],
    "rtp_hold_s": 8,
    "rtp_ramp_cps": 40,
}


def log(*args):
    print("[bench]", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Processes: everything started goes through here so that it can be killed on any exit.


class Procs:
    def __init__(self):
        self.procs = []  # (name, Popen)

    def start(self, name, args, cwd=None, env=None, stdout=None, stderr=None):
        if args and args[0] == "sipp":
            # SIPp's UDP control socket defaults to 8888 (then a few above it), which parallel
            # SIPp runs (ours or anybody's tests) may hold: give each its own.
            args = list(args) + ["-cp", free_udp_port()]
        p = subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=stderr if stderr is not None else subprocess.DEVNULL,
            # Own process group: Ctrl-C reaches only us, and we stop them in order.
            start_new_session=True,
        )
        self.procs.append((name, p))
        return p

    def stop(self, p, grace=3.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
        self.procs = [(n, q) for (n, q) in self.procs if q is not p]

    def stop_all(self):
        for _, p in reversed(list(self.procs)):
            try:
                self.stop(p)
            except Exception as e:  # keep going: kill the rest
                log(f"could not stop pid {p.pid}: {e}")


def wait_bounded(p, timeout):
    """Waits for p at most timeout seconds; returns its exit code or None if still running."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


# ---------------------------------------------------------------------------------------------
# /proc sampling


def proc_cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (all threads)


def proc_runq_wait_s(pid):
    """Seconds all of pid's threads have spent runnable but waiting for a CPU
    (/proc/PID/task/*/schedstat, second field): how much other work delayed it."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def proc_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KB / 1024.0
    except OSError:
        return None


def udp_drops(ports=None, lo=None, hi=None):
    """Sum of the kernel's per-socket receive drops (/proc/net/udp) of 127.0.0.1 sockets on
    `ports` or in lo..hi, and how many sockets matched."""
    total = n = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                parts = line.split()
                ip_hex, port_hex = parts[1].split(":")
                port = int(port_hex, 16)
                if ip_hex != "0100007F":
                    continue
                if (ports and port in ports) or (lo is not None and lo <= port <= hi):
                    total += int(parts[-1])
                    n += 1
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return total, n


def host_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


class CpuWindow:
    """CPU % (of one core) of some processes and of the host between start() and stop()."""

    def __init__(self, pids):
        self.pids = dict(pids)  # name -> pid

    def start(self):
        self.t0 = time.monotonic()
        self.h0 = host_cpu()
        self.c0 = {n: proc_cpu_ticks(p) for n, p in self.pids.items()}
        self.last = dict(self.c0)
        self.w0 = proc_runq_wait_s(self.pids["tsunagu"]) if "tsunagu" in self.pids else None
        self.w_last = self.w0
        return self

    def sample(self):
        """Remembers the latest counters: a process that exits before stop() keeps its last."""
        for n, p in self.pids.items():
            c = proc_cpu_ticks(p)
            if c is not None:
                self.last[n] = c
        if self.w0 is not None:
            w = proc_runq_wait_s(self.pids["tsunagu"])
            if w is not None:
                self.w_last = w

    def stop(self):
        self.sample()
        dt = max(time.monotonic() - self.t0, 1e-6)
        h1 = host_cpu()
        out = {}
        for n, p in self.pids.items():
            c1 = self.last.get(n)
            c0 = self.c0.get(n)
            out[n] = None if c0 is None or c1 is None else (c1 - c0) / CLK_TCK / dt * 100.0
        busy, total = h1[0] - self.h0[0], h1[1] - self.h0[1]
        ncpu = os.cpu_count() or 1
        # Whole machine, in the same unit (% of one core, max ncpu x 100).
        ours = sum(v for v in out.values() if v is not None)
        out["host"] = busy / total * 100.0 * ncpu if total > 0 else None
        out["others"] = max(0.0, out["host"] - ours) if out["host"] is not None else None
        out["wall_s"] = dt
        # Tsunagu's run-queue wait over its CPU time, %: 0 when it always got a core at once.
        t_cpu = out.get("tsunagu")
        out["wait"] = ((self.w_last - self.w0) / (t_cpu / 100.0 * dt) * 100.0
                       if self.w0 is not None and t_cpu else None)
        return out


# ---------------------------------------------------------------------------------------------
# Ports


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_sip_port():
    for _ in range(200):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                t.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
            finally:
                t.close()
        finally:
            u.close()
    raise RuntimeError("no free SIP port")


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_media_port():
    """An even UDP port with the next three free too (SIPp echoes on port+2 as well)."""
    for _ in range(200):
        base = free_udp_port() & ~1
        if RTP_PORTS[0] - 4 <= base <= RTP_PORTS[1] or base + 3 > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + 4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free media port")


# ---------------------------------------------------------------------------------------------
# Tsunagu


class Tsunagu:
    def __init__(self, procs, workdir, binary, label="tsunagu", rtp_ports=RTP_PORTS):
        self.procs = procs
        self.label = label
        self.rtp_ports = rtp_ports
        self.data = workdir / "data"
        self.http_port = free_tcp_port()
        self.sip_port = free_sip_port()
        self.sip = f"127.0.0.1:{self.sip_port}"
        self.log_path = workdir / "tsunagu.log"
        env = dict(os.environ, RUST_LOG=RUST_LOG[0])
        self.logf = open(self.log_path, "wb")
        self.proc = procs.start(
            "tsunagu",
            [
                binary, "serve", "--demo",
                "--data-dir", self.data,
                "--http-addr", f"127.0.0.1:{self.http_port}",
                "--sip-addr", self.sip,
                "--rtp-ports", f"{rtp_ports[0]}-{rtp_ports[1]}",
                "--web-dir", "/nonexistent",
            ],
            env=env,
            stdout=self.logf,
            stderr=self.logf,
        )
        self.pid = self.proc.pid
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = None

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tsunagu exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with self.opener.open(f"{self.base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"tsunagu not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        req.add_header("content-type", "application/json")
        if self.csrf:
            req.add_header("x-csrf-token", self.csrf)
        with self.opener.open(req, timeout=10) as r:
            text = r.read()
        return json.loads(text) if text else None

    def login(self):
        me = self.api("POST", "/api/v1/auth/login", {"login_id": "admin", "password": "Admin1234"})
        self.csrf = me["csrf_token"]

    def route_number(self, kind):
        """Routes the demo number to the group Support (the demo's setting) or straight to
        agent 201."""
        if kind == "group":
            return
        agents = self.api("GET", f"/api/v1/agents?login_id={AGENT}")
        agent_id = agents["items"][0]["id"]
        self.api("PATCH", "/api/v1/numbers/1", {"route": {"kind": "agent", "id": agent_id}})

    def db(self):
        return sqlite3.connect(f"file:{self.data / 'tsunagu.db'}?mode=ro", uri=True, timeout=10)


# ---------------------------------------------------------------------------------------------
# SIPp


def sipp_version():
    try:
        out = subprocess.run(["sipp", "-v"], capture_output=True, text=True, timeout=10)
        for line in (out.stdout + out.stderr).splitlines():
            if "SIPp" in line:
                return line.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "unknown"


def register(procs, ts, contact_port, workdir):
    """Registers extension 201 with its Contact at contact_port (3 tries of at most 10 s)."""
    err_path = Path(workdir) / "register.err"
    rc = None
    for attempt in range(3):
        with open(err_path, "wb") as err:
            p = procs.start(
                "sipp-register",
                [
                    "sipp", ts.sip, "-sf", REGISTER_XML,
                    "-m", "1", "-nostdin", "-timeout", "10", "-timeout_error",
                    "-p", free_udp_port(),
                    "-au", AGENT, "-ap", f"demo{AGENT}",
                    "-key", "user", AGENT, "-key", "contact_port", contact_port,
                ],
                cwd=workdir,
                stderr=err,
            )
            rc = wait_bounded(p, 15)
            procs.stop(p)
        if rc == 0:
            return
        log(f"registration attempt {attempt + 1} failed (sipp exit {rc}): "
            f"{err_path.read_text(errors='replace').strip()[-300:]}")
        time.sleep(0.5)
    raise RuntimeError(f"registration of {AGENT} failed (sipp exit {rc})")


def start_phone(procs, ts, workdir, sip_port=None):
    """The agent's phone: one SIPp UAS (answers at once, echoes RTP) registered as 201."""
    sip_port = sip_port or free_udp_port()
    media = free_media_port()
    p = procs.start(
        "sipp-agent",
        [
            "sipp", ts.sip, "-sf", ANSWER_XML,
            "-p", sip_port, "-mp", media, "-rtp_echo",
            "-nostdin", "-m", "10000000", "-timeout", "900",
        ],
        cwd=workdir,
    )
    time.sleep(0.3)
    if p.poll() is not None:
        raise RuntimeError(f"agent SIPp exited at once ({p.returncode})")
    register(procs, ts, sip_port, workdir)
    return p, sip_port, media


def read_stat_csv(path):
    """Last row of a SIPp -trace_stat file as a dict (cumulative counters end with (C))."""
    try:
        lines = [l for l in Path(path).read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    head = lines[0].rstrip(";").split(";")
    last = lines[-1].rstrip(";").split(";")
    return dict(zip(head, last))


def stat_int(stat, key):
    try:
        return int(stat.get(key, "0") or 0)
    except ValueError:
        return 0


def read_rtt(dirpath):
    """{rtd name: [ms, ...]} from SIPp -trace_rtt files (Date_ms;response_time_ms;rtd_no)."""
    out = {}
    for f in glob.glob(str(Path(dirpath) / "*_rtt.csv")):
        for line in Path(f).read_text(errors="replace").splitlines():
            parts = line.strip().rstrip(";").split(";")
            if len(parts) < 3:
                continue
            try:
                ms = float(parts[1])
            except ValueError:
                continue  # header
            out.setdefault(parts[2].strip(), []).append(ms)
    return out


def read_shortmsg(path):
    """INVITE->180 and INVITE->200 in ms per call from a SIPp -trace_shortmsg file, whose
    timestamps have microseconds (SIPp's own rtd timers tick in 4 ms steps here)."""
    calls = {}
    try:
        f = open(path, errors="replace")
    except OSError:
        return [], []
    with f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 7:
                continue
            try:
                t = float(parts[2])
            except ValueError:
                continue
            kind, cid, cseq, first = parts[3], parts[4], parts[5], parts[6]
            if not cseq.endswith("INVITE"):
                continue
            c = calls.setdefault(cid, {})
            if kind == "S" and first.startswith("INVITE"):
                c.setdefault("inv", t)
            elif kind == "R" and first.startswith("SIP/2.0 180"):
                c.setdefault("180", t)
            elif kind == "R" and first.startswith("SIP/2.0 200"):
                c.setdefault("200", t)
    r180 = [(c["180"] - c["inv"]) * 1000.0 for c in calls.values() if "inv" in c and "180" in c]
    r200 = [(c["200"] - c["inv"]) * 1000.0 for c in calls.values() if "inv" in c and "200" in c]
    return r180, r200


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def failure_reasons(stat):
    names = [
        ("FailedCallRejected(C)", "rejected"),
        ("FailedUnexpectedMessage(C)", "unexpected msg"),
        ("FailedTimeoutOnRecv(C)", "recv timeout"),
        ("FailedMaxUDPRetrans(C)", "max retrans"),
        ("FailedTimeoutOnSend(C)", "send timeout"),
        ("FailedOutboundCongestion(C)", "congestion"),
        ("FailedCmdNotSent(C)", "not sent"),
    ]
    parts = [f"{label} {stat_int(stat, k)}" for k, label in names if stat_int(stat, k)]
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Formatting


def fmt(v, spec="{:.1f}", none="-"):
    return none if v is None else spec.format(v)


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    return "\n".join(lines)


# Load on the machine: other engineers' builds share it, so every step records it and a step
# that others disturbed is run again.


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------------------------
# (a) signalling


def signalling_step(procs, inst, rate, step_s, attempt):
    """One offered rate against one Tsunagu; returns the result dict."""
    ts, phone, phone_port, adir = inst["ts"], inst["phone"], inst["phone_port"], inst["adir"]
    register(procs, ts, phone_port, adir)  # cheap, and keeps the binding fresh
    sdir = adir / f"cps{rate}-{attempt}"
    sdir.mkdir()
    total = rate * step_s
    stat_path = sdir / "stat.csv"
    caller = f"0901{rate:04d}{attempt:02d}"
    log(f"(a) {ts.label} {inst['route']}: {rate} cps for {step_s} s ({total} calls)"
        + (f", attempt {attempt + 1}" if attempt else ""))
    pids = {"tsunagu": ts.pid, "agent": phone.pid}
    rss_peak = proc_rss_mb(ts.pid) or 0.0
    load0 = loadavg()
    carrier = procs.start(
        "sipp-carrier",
        [
            "sipp", ts.sip, "-sf", CARRIER_SHORT_XML,
            "-s", DID, "-key", "caller", caller,
            "-p", free_udp_port(), "-mp", free_media_port(),
            "-r", rate, "-rp", "1000", "-m", total,
            "-l", max(50, rate * 4),
            "-recv_timeout", "10000",
            "-nostdin", "-timeout", step_s + 40, "-timeout_error",
            "-trace_stat", "-stf", stat_path, "-fd", "1",
            "-trace_rtt", "-rtt_freq", "100", "-timer_resol", "1",
            "-trace_err", "-error_file", sdir / "errors.log",
            "-trace_shortmsg", "-shortmessage_file", sdir / "short.log",
        ],
        cwd=sdir,
    )
    pids["carrier"] = carrier.pid
    win = CpuWindow(pids).start()
    load_peak = load0 or 0.0
    deadline = time.monotonic() + step_s + 45
    while time.monotonic() < deadline:
        win.sample()  # before poll(): reaping the carrier removes its /proc entry
        if carrier.poll() is not None:
            break
        rss_peak = max(rss_peak, proc_rss_mb(ts.pid) or 0.0)
        load_peak = max(load_peak, loadavg() or 0.0)
        time.sleep(0.1)
    cpu = win.stop()
    procs.stop(carrier)
    stat = read_stat_csv(stat_path)
    ok = stat_int(stat, "SuccessfulCall(C)")
    failed = stat_int(stat, "FailedCall(C)")
    created = stat_int(stat, "OutgoingCall(C)")
    retrans = stat_int(stat, "Retransmissions(C)")
    not_run = max(0, total - created)
    rtt = read_rtt(sdir)
    rtd180, rtd200 = rtt.get("inv180", []), rtt.get("inv200", [])
    r180, r200 = read_shortmsg(sdir / "short.log")
    achieved = ok / cpu["wall_s"] if cpu["wall_s"] else 0.0
    cpu_ms = (cpu["tsunagu"] / 100.0 * cpu["wall_s"] * 1000.0 / ok
              if ok and cpu["tsunagu"] is not None else None)
    if ts.proc.poll() is not None:
        raise RuntimeError(f"{ts.label} died during (a):\n{ts.log_tail()}")
    return {
        "label": ts.label, "route": inst["route"], "attempt": attempt,
        "rate": rate, "achieved": achieved, "ok": ok, "failed": failed + not_run,
        "total": total,
        "n180": len(r180), "n200": len(r200), "retrans": retrans,
        "p50_180": pct(r180, 50), "p99_180": pct(r180, 99),
        "p50_200": pct(r200, 50), "p99_200": pct(r200, 99),
        "rtd": (pct(rtd180, 50), pct(rtd180, 99), pct(rtd200, 50), pct(rtd200, 99),
                len(rtd180), len(rtd200)),
        "cpu": cpu["tsunagu"], "cpu_ms": cpu_ms, "rss": rss_peak,
        "carrier_cpu": cpu["carrier"], "agent_cpu": cpu["agent"], "host": cpu["host"],
        "others": cpu["others"], "load0": load0, "load_peak": load_peak, "wait": cpu["wait"],
        "why": failure_reasons(stat) + (f", never started {not_run}" if not_run else ""),
    }


def signalling_row(r):
    return [
        r["rate"], f"{r['achieved']:.1f}", r["ok"], r["failed"], r["retrans"],
        fmt(r["p50_180"], "{:.2f}"), fmt(r["p99_180"], "{:.2f}"),
        fmt(r["p50_200"], "{:.2f}"), fmt(r["p99_200"], "{:.2f}"),
        fmt(r["cpu"], "{:.0f}"), fmt(r["cpu_ms"], "{:.3f}"), fmt(r["rss"]),
        fmt(r["carrier_cpu"], "{:.0f}"), fmt(r["agent_cpu"], "{:.0f}"),
        fmt(r["others"], "{:.0f}"), fmt(r["host"], "{:.0f}"),
        f"{fmt(r['load0'], '{:.2f}')}/{fmt(r['load_peak'], '{:.2f}')}",
        fmt(r["wait"], "{:.0f}"), r["attempt"] + 1,
    ]


SIGNALLING_HEADERS = [
    "offered cps", "achieved cps", "ok", "failed", "retrans",
    "180 p50", "180 p99", "200 p50", "200 p99",
    "tsunagu CPU%", "CPU ms/call", "RSS MB", "carrier SIPp CPU%", "agent SIPp CPU%",
    "others CPU%", "host CPU%", "load1 start/peak", "runq wait %", "run",
]


def disturbed(r, max_others):
    """Tsunagu waited for a CPU for more than MAX_WAIT[0] % of the CPU time it used, or the
    rest of the machine used more than max_others % of a core."""
    return r is not None and ((r.get("others") or 0.0) > max_others
                              or (r.get("wait") or 0.0) > MAX_WAIT[0])


def wait_quiet(pids, max_others, limit_s=30):
    """Before a rerun: waits (at most limit_s) until the rest of the machine has used at most
    max_others % of a core over 3 s, so that the rerun does not land in the same build."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        win = CpuWindow(pids).start()
        time.sleep(3.0)
        others = win.stop()["others"]
        if others is not None and others <= max_others:
            return
        log(f"waiting for a quieter machine: others {others:.0f} % of a core")


def quiet_pids(insts):
    """Our own idle processes, which do not count as others."""
    pids = {}
    for i, inst in enumerate(insts):
        pids[f"tsunagu{i}"] = inst["ts"].pid
        pids[f"phone{i}"] = inst["phone"].pid
    return pids


def run_signalling(procs, tss, workdir, cfg, route, max_others, reruns):
    """Part (a) for every Tsunagu in `tss`, step by step, alternating which one goes first."""
    steps = cfg["cps_steps"]
    step_s = cfg["cps_step_s"]
    insts = []
    try:
        for ts in tss:
            adir = workdir / f"a-{route}-{ts.label}"
            adir.mkdir()
            ts.route_number(route)
            phone, phone_port, _ = start_phone(procs, ts, adir)
            insts.append({"ts": ts, "phone": phone, "phone_port": phone_port, "adir": adir,
                          "route": route})
        results = {ts.label: [] for ts in tss}
        for i, rate in enumerate(steps):
            order = insts if i % 2 == 0 else list(reversed(insts))
            for inst in order:
                r = None
                for attempt in range(reruns + 1):
                    r = signalling_step(procs, inst, rate, step_s, attempt)
                    time.sleep(1.0)  # let the last dialogs linger out
                    if not disturbed(r, max_others):
                        break
                    log(f"(a) {r['label']} {rate} cps: others used {r['others']:.0f} % of a core, "
                        f"runq wait {fmt(r['wait'], '{:.0f}')} % "
                        f"(> {max_others:.0f}), load {fmt(r['load_peak'], '{:.2f}')}: "
                        + ("running it again" if attempt < reruns else "keeping it, marked"))
                    if attempt < reruns:
                        wait_quiet(quiet_pids(insts), max_others)
                results[inst["ts"].label].append(r)
    finally:
        for inst in insts:
            procs.stop(inst["phone"])
    return results


def print_signalling(results, cfg, route, max_others):
    for label, res in results.items():
        if route == "group":
            print(f"(a) [{label}] Signalling only: carrier -> {DID} -> group Support (demo "
                  f"setting) -> agent {AGENT}")
            print("    The demo group has 201, 202 and 203; only 201 is registered, so every "
                  "call has exactly one outgoing leg. Through the group the ACD queue offers "
                  "201 one call at a time:")
            print("    a call waits while the previous one is still up (each lasts a few ms "
                  "here), so at high rates this measures queueing too (see --route agent).")
        else:
            print(f"(a) [{label}] Signalling only: carrier -> {DID} routed straight to agent "
                  f"{AGENT} (--route agent; no group, no ACD queue); one outgoing leg per call.")
        print(f"    Calls answer at once, no media, BYE right after ACK; each step lasts "
              f"{cfg['cps_step_s']} s. Times in ms, from SIPp's message trace (microseconds).")
        print(table(SIGNALLING_HEADERS, [signalling_row(r) for r in res]))
        print("    SIPp's own rtd timers (-trace_rtt; SIPp's clock ticks in 4 ms steps here, so "
              "0/4/8 ms), p50/p99 INVITE->180, INVITE->200:")
        print("    " + "; ".join(
            f"{r['rate']} cps: {fmt(r['rtd'][0], '{:.0f}')}/{fmt(r['rtd'][1], '{:.0f}')}, "
            f"{fmt(r['rtd'][2], '{:.0f}')}/{fmt(r['rtd'][3], '{:.0f}')}" for r in res))
        for r in res:
            if r["failed"] and r["why"]:
                print(f"    {r['rate']} cps failures: {r['why']}")
            if r["n180"] < r["ok"]:
                print(f"    {r['rate']} cps: only {r['n180']} of {r['ok']} calls saw a 180")
            if disturbed(r, max_others):
                print(f"    {r['rate']} cps: DISTURBED (others {r['others']:.0f} % of a core, runq "
                      f"wait {fmt(r['wait'], '{:.0f}')} % "
                      f"after {r['attempt'] + 1} runs): read with care")
        clean = [r["rate"] for r in res if r["failed"] == 0 and r["ok"] > 0]
        best = max(clean) if clean else None
        if best:
            got = next(r["achieved"] for r in res if r["rate"] == best)
            print(f"    Highest offered rate with zero failed calls: {best} cps "
                  f"(achieved {got:.1f} cps)")
        else:
            print("    Highest offered rate with zero failed calls: none")
        sipp_bound = [r["rate"] for r in res
                      if (r["carrier_cpu"] or 0) + (r["agent_cpu"] or 0) >= (r["cpu"] or 0)
                      and (r["host"] or 0) >= 85 * (os.cpu_count() or 1)]
        if sipp_bound:
            print(f"    Host CPU >= 85 % with SIPp using at least as much CPU as Tsunagu at "
                  f"{', '.join(map(str, sipp_bound))} cps: SIPp shares the limit there.")
        print(flush=True)
    if len(results) > 1:
        labels = list(results)
        print(f"(a) side by side, --route {route}: failed calls (% of offered), INVITE->200 "
              f"p50/p99 ms, Tsunagu CPU ms per call")
        headers = ["offered cps"]
        for l in labels:
            headers += [f"{l} failed", f"{l} 200 p50/p99", f"{l} CPU ms/call"]
        rows = []
        for i, rate in enumerate(cfg["cps_steps"]):
            row = [rate]
            for l in labels:
                r = results[l][i]
                share = r["failed"] / r["total"] * 100.0 if r["total"] else 0.0
                row += [f"{r['failed']} ({share:.2f} %)",
                        f"{fmt(r['p50_200'], '{:.2f}')}/{fmt(r['p99_200'], '{:.2f}')}",
                        fmt(r["cpu_ms"], "{:.3f}")]
            rows.append(row)
        print(table(headers, rows))
        base, new = labels[0], labels[-1]
        ratios = [results[new][i]["cpu_ms"] / results[base][i]["cpu_ms"]
                  for i in range(len(cfg["cps_steps"]))
                  if results[new][i]["cpu_ms"] and results[base][i]["cpu_ms"]
                  and results[base][i]["failed"] == 0 and results[new][i]["failed"] == 0]
        if ratios:
            print(f"    CPU per call {new} / {base} over the steps where neither failed a "
                  f"call: {min(ratios):.2f} to {max(ratios):.2f} "
                  f"(median {sorted(ratios)[len(ratios) // 2]:.2f})")
        print(flush=True)


# ---------------------------------------------------------------------------------------------
# (b) media


def make_tone(path, seconds=30):
    if not shutil.which("sox"):
        raise RuntimeError("sox is needed for the RTP run (Debian package sox)")
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path),
         "synth", str(seconds), "sine", "440"],
        check=True, timeout=60,
    )


def media_stats(ts, caller, expect_calls, wait_s=10):
    """Per-call relay counters of the calls from `caller`: waits (bounded) for the events.
    Since the call-control core an event names its call by the `calls` row id (`events.call`);
    before it, by the SIP Call-ID (`events.call_id` = `calls.call_uuid`). Both are handled, so
    that a baseline binary can be measured too."""
    deadline = time.monotonic() + wait_s
    rows = []
    while True:
        con = ts.db()
        try:
            cols = {r[1] for r in con.execute("PRAGMA table_info(events)")}
            on = "e.call = c.id" if "call" in cols else "e.call_id = c.call_uuid"
            rows = con.execute(
                f"""SELECT c.answered_at, c.ended_at, e.data FROM calls c
                   JOIN events e ON {on} AND e.kind = 'call.media'
                   WHERE c.remote_party = ?""",
                (caller,),
            ).fetchall()
            answered = con.execute(
                "SELECT COUNT(*) FROM calls WHERE remote_party = ? AND answered_at IS NOT NULL",
                (caller,),
            ).fetchone()[0]
        finally:
            con.close()
        if len(rows) >= min(expect_calls, answered) or time.monotonic() > deadline:
            return rows, answered
        time.sleep(0.5)


def media_level(procs, inst, n, hold_s, ramp, attempt):
    ts, phone, phone_port, bdir = inst["ts"], inst["phone"], inst["phone_port"], inst["bdir"]
    echo_ports = inst["echo_ports"]
    lo, hi = ts.rtp_ports
    register(procs, ts, phone_port, bdir)
    sdir = bdir / f"calls{n}-{attempt}"
    sdir.mkdir()
    shutil.copy(bdir / "tone.wav", sdir / "tone.wav")
    caller = f"0902{n:04d}{attempt:02d}"
    ramp_s = n / ramp
    if hold_s < ramp_s + 4:
        log(f"(b) warning: hold {hold_s} s is short for a {ramp_s:.1f} s ramp")
    log(f"(b) {ts.label}: {n} concurrent calls: ramp {ramp_s:.1f} s at {ramp} cps, hold "
        f"{hold_s} s" + (f", attempt {attempt + 1}" if attempt else ""))
    stat_path = sdir / "stat.csv"
    load0 = loadavg()
    carrier = procs.start(
        "sipp-carrier-rtp",
        [
            "sipp", ts.sip, "-sf", CARRIER_RTP_XML,
            "-s", DID, "-key", "caller", caller,
            "-p", free_udp_port(), "-mp", free_media_port(),
            "-r", ramp, "-rp", "1000", "-m", n, "-l", n,
            "-d", hold_s * 1000,
            "-recv_timeout", "15000",
            "-nostdin", "-timeout", int(ramp_s + hold_s + 40), "-timeout_error",
            "-trace_stat", "-stf", stat_path, "-fd", "1",
        ],
        cwd=sdir,
    )
    t0 = time.monotonic()
    pids = {"tsunagu": ts.pid, "agent": phone.pid, "carrier": carrier.pid}
    # Steady window: every call is up (ramp done) and none has hung up yet.
    w_start = t0 + ramp_s + 1.0
    w_end = t0 + hold_s - 0.5
    if w_end - w_start < 2.0:
        w_start, w_end = t0 + ramp_s, t0 + ramp_s + 2.0
    win, cpu, rss_samples = None, None, []
    echo_d0 = udp_drops(ports=echo_ports)[0]
    relay_d0 = udp_drops(lo=lo, hi=hi)[0]
    drops = None
    load_peak = load0 or 0.0
    deadline = t0 + ramp_s + hold_s + 50
    while carrier.poll() is None and time.monotonic() < deadline:
        now = time.monotonic()
        load_peak = max(load_peak, loadavg() or 0.0)
        if win is None and now >= w_start:
            win = CpuWindow(pids).start()
        if win is not None and cpu is None:
            win.sample()
            rss = proc_rss_mb(ts.pid)
            if rss is not None:
                rss_samples.append(rss)
            if now >= w_end:
                cpu = win.stop()
                # Before the hangups close Tsunagu's per-call sockets.
                drops = (udp_drops(ports=echo_ports)[0] - echo_d0,
                         udp_drops(lo=lo, hi=hi)[0] - relay_d0)
        time.sleep(0.25)
    if win is not None and cpu is None:
        cpu = win.stop()  # the carrier ended early: a shorter window
    procs.stop(carrier)
    stat = read_stat_csv(stat_path)
    ok = stat_int(stat, "SuccessfulCall(C)")
    failed = stat_int(stat, "FailedCall(C)") + max(0, n - stat_int(stat, "OutgoingCall(C)"))
    media, answered = media_stats(ts, caller, n)
    fwd = back = 0
    talk = []
    for answered_at, ended_at, data in media:
        d = json.loads(data)
        fwd += int(d.get("caller_to_callee_packets", 0))
        back += int(d.get("callee_to_caller_packets", 0))
        if answered_at and ended_at:
            talk.append((ended_at - answered_at) / 1000.0)
    # The carrier streams from its ACK to its BYE: exactly the -d hold time per call.
    expected = PTIME_PPS * hold_s * len(media)
    pps = (fwd + back) / hold_s
    db_talk = sum(talk) / len(talk) if talk else None
    echo_loss = (1.0 - back / fwd) * 100.0 if fwd else None
    src_loss = (1.0 - fwd / expected) * 100.0 if expected else None
    rss = max(rss_samples) if rss_samples else None
    idle_rss = inst["idle_rss"]
    per_call = ((rss - idle_rss) * 1024.0 / n) if rss is not None and idle_rss else None
    # CPU per relayed packet: Tsunagu's CPU in the steady window / packets it relayed there
    # (every call up: n x 50 pkt/s each way).
    us_pkt = (cpu["tsunagu"] / 100.0 * 1e6 / (n * PTIME_PPS * 2)
              if cpu and cpu["tsunagu"] is not None else None)
    if ts.proc.poll() is not None:
        raise RuntimeError(f"{ts.label} died during (b):\n{ts.log_tail()}")
    return {
        "label": ts.label, "attempt": attempt,
        "n": n, "ok": ok, "failed": failed, "media_calls": len(media),
        "answered": answered, "pps": pps, "fwd": fwd, "back": back,
        "expected": expected, "echo_loss": echo_loss, "src_loss": src_loss,
        "cpu": cpu and cpu["tsunagu"], "rss": rss, "us_pkt": us_pkt,
        "kb_call": per_call, "db_talk": db_talk, "drops": drops,
        "carrier_cpu": cpu and cpu["carrier"], "agent_cpu": cpu and cpu["agent"],
        "host": cpu and cpu["host"], "window_s": cpu and cpu["wall_s"],
        "others": cpu and cpu["others"], "load0": load0, "load_peak": load_peak,
        "wait": cpu and cpu["wait"],
        "why": failure_reasons(stat),
    }


def media_row(r):
    drops = r["drops"]
    return [
        r["n"], r["ok"], r["failed"], r["media_calls"], f"{r['pps']:.0f}",
        r["fwd"], r["back"], f"{r['expected']:.0f}",
        fmt(r["echo_loss"], "{:.3f}"), fmt(r["src_loss"], "{:.3f}"),
        drops[0] if drops else "-", drops[1] if drops else "-",
        fmt(r["cpu"], "{:.0f}"), fmt(r["us_pkt"], "{:.2f}"), fmt(r["rss"]),
        fmt(r["kb_call"], "{:.1f}"),
        fmt(r["carrier_cpu"], "{:.0f}"), fmt(r["agent_cpu"], "{:.0f}"),
        fmt(r["others"], "{:.0f}"), fmt(r["host"], "{:.0f}"),
        fmt(r["db_talk"], "{:.2f}"),
        f"{fmt(r['load0'], '{:.2f}')}/{fmt(r['load_peak'], '{:.2f}')}",
        fmt(r["wait"], "{:.0f}"), r["attempt"] + 1,
    ]


MEDIA_HEADERS = [
    "calls", "ok", "failed", "media ev", "pkt/s via tsunagu",
    "fwd pkts", "back pkts", "expected fwd", "echo loss %", "fwd deficit %",
    "echo drops", "relay drops",
    "tsunagu CPU%", "CPU us/pkt", "RSS MB", "KB/call", "carrier SIPp CPU%", "agent SIPp CPU%",
    "others CPU%", "host CPU%", "db talk s", "load1 start/peak", "runq wait %", "run",
]


def run_media(procs, tss, workdir, cfg, max_others, reruns):
    levels = cfg["rtp_levels"]
    hold_s = cfg["rtp_hold_s"]
    ramp = cfg["rtp_ramp_cps"]
    insts = []
    try:
        for ts in tss:
            bdir = workdir / f"b-{ts.label}"
            bdir.mkdir()
            # Through the group, the ACD offers an agent one call at a time: the others would
            # wait in the queue. Concurrent calls to one phone need the number routed to the
            # agent itself.
            ts.route_number("agent")
            make_tone(bdir / "tone.wav")
            phone, phone_port, phone_media = start_phone(procs, ts, bdir)
            insts.append({"ts": ts, "phone": phone, "phone_port": phone_port, "bdir": bdir,
                          "echo_ports": {phone_media, phone_media + 2}})
        time.sleep(2.0)
        for inst in insts:
            inst["idle_rss"] = proc_rss_mb(inst["ts"].pid)
        results = {ts.label: [] for ts in tss}
        for i, n in enumerate(levels):
            order = insts if i % 2 == 0 else list(reversed(insts))
            for inst in order:
                r = None
                for attempt in range(reruns + 1):
                    r = media_level(procs, inst, n, hold_s, ramp, attempt)
                    time.sleep(2.0)
                    if not disturbed(r, max_others):
                        break
                    log(f"(b) {r['label']} {n} calls: others used {fmt(r['others'], '{:.0f}')} % of a core, "
                        f"runq wait {fmt(r['wait'], '{:.0f}')} % "
                        f"(> {max_others:.0f}): "
                        + ("running it again" if attempt < reruns else "keeping it, marked"))
                    if attempt < reruns:
                        wait_quiet(quiet_pids(insts), max_others)
                results[inst["ts"].label].append(r)
    finally:
        for inst in insts:
            procs.stop(inst["phone"])
    idle = {inst["ts"].label: inst.get("idle_rss") for inst in insts}
    return results, idle


def print_media(results, idle, cfg, max_others):
    for label, res in results.items():
        print(f"(b) [{label}] Media: carrier streams 8 kHz u-law (50 pkt/s) to agent {AGENT}, "
              f"whose SIPp echoes it back (-rtp_echo); calls held {cfg['rtp_hold_s']} s, "
              f"ramped at {cfg['rtp_ramp_cps']} cps.")
        print(f"    {DID} is routed straight to agent {AGENT} here: through the group the ACD "
              f"would offer 201 one call at a time and queue the rest.")
        print(f"    Packet counts are Tsunagu's own (call.media events); CPU, RSS and socket "
              f"drops are sampled while every call is up. A fresh Tsunagu process serves (b); "
              f"its idle RSS: {fmt(idle.get(label))} MB.")
        print(table(MEDIA_HEADERS, [media_row(r) for r in res]))
        for r in res:
            if r["failed"] and r["why"]:
                print(f"    {r['n']} calls failures: {r['why']}")
            if disturbed(r, max_others):
                print(f"    {r['n']} calls: DISTURBED (others {fmt(r['others'], '{:.0f}')} % of a core, "
                      f"runq wait {fmt(r['wait'], '{:.0f}')} % "
                      f"after {r['attempt'] + 1} runs): read with care")
        good = [r["n"] for r in res
                if r["echo_loss"] is not None and r["echo_loss"] < 0.1 and r["failed"] == 0]
        print(f"    Highest level with < 0.1 % echo loss and no failed call: "
              f"{str(max(good)) + ' calls' if good else 'none'}")
        print(flush=True)
    if len(results) > 1:
        labels = list(results)
        print("(b) side by side: echo loss %, Tsunagu CPU % of a core and CPU us per relayed "
              "packet with every call up, KB of RSS per call")
        headers = ["calls"]
        for l in labels:
            headers += [f"{l} echo loss %", f"{l} CPU%", f"{l} us/pkt", f"{l} KB/call"]
        rows = []
        for i, n in enumerate(cfg["rtp_levels"]):
            row = [n]
            for l in labels:
                r = results[l][i]
                row += [fmt(r["echo_loss"], "{:.3f}"), fmt(r["cpu"], "{:.0f}"),
                        fmt(r["us_pkt"], "{:.2f}"), fmt(r["kb_call"], "{:.1f}")]
            rows.append(row)
        print(table(headers, rows))
        print(flush=True)


# ---------------------------------------------------------------------------------------------


def git_rev(path):
    try:
        rev = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "crates"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev or "unknown") + (" (crates/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def environment(binaries):
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    h0 = host_cpu()
    time.sleep(2.0)
    h1 = host_cpu()
    busy = (h1[0] - h0[0]) / max(1, h1[1] - h0[1]) * 100.0 * (os.cpu_count() or 1)
    rows = [
        ("date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        ("nproc", str(os.cpu_count())),
        ("host CPU% before start", f"{busy:.0f} (other work on the machine, % of one core)"),
        ("load average before start", fmt(loadavg(), "{:.2f}")),
        ("CPU", model),
        ("memory", f"{mem_mb} MB" if mem_mb else "unknown"),
        ("kernel", platform.release()),
        ("SIPp", sipp_version()),
        ("Python", platform.python_version()),
    ]
    for label, path in binaries:
        # A binary at <worktree>/target/release/tsunagu: name the worktree's commit.
        tree = Path(path).resolve().parent.parent.parent
        rows.append((f"Tsunagu {label}", f"{path}, release build, git {git_rev(tree)}"))
    return rows


def start_tsunagu(procs, workdir, binary, label, rtp_ports):
    workdir.mkdir()
    ts = Tsunagu(procs, workdir, binary, label, rtp_ports)
    ts.wait_ready()
    ts.login()
    # The demo number allows 10 channels; 0 means no limit, so that the limit is not measured.
    ts.api("PATCH", "/api/v1/numbers/1", {"max_channels": 0})
    log(f"{label}: tsunagu pid {ts.pid}, SIP {ts.sip}, HTTP {ts.base}, data {ts.data}, "
        f"RTP {rtp_ports[0]}-{rtp_ports[1]}")
    return ts


def start_all(procs, workdir, binaries, tag):
    """One Tsunagu per binary, each on its own share of the RTP range."""
    span = (RTP_PORTS[1] - RTP_PORTS[0] + 1) // len(binaries)
    span -= span % 2
    tss = []
    for i, (label, path) in enumerate(binaries):
        lo = RTP_PORTS[0] + i * span
        tss.append(start_tsunagu(procs, workdir / f"tsunagu-{tag}-{label}", path, label,
                                 (lo, lo + span - 1)))
    return tss


def build():
    log("cargo build --release --bin tsunagu")
    r = subprocess.run(["cargo", "build", "--release", "--bin", "tsunagu"], cwd=ROOT, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError("cargo build failed")
    return ROOT / "target" / "release" / "tsunagu"


def int_list(text):
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}")
    if not out or min(out) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive numbers: {text!r}")
    return out


def binary_arg(text):
    label, sep, path = text.partition("=")
    if not sep:
        label, path = Path(text).resolve().parent.parent.parent.name or "tsunagu", text
    if not label or not label.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"a label is letters, digits, - and _: {label!r}")
    return label, Path(path)


def route_list(text):
    out = [r for r in text.split(",") if r]
    bad = [r for r in out if r not in ("group", "agent")]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"routes are group and agent: {text!r}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small numbers, about 1 minute")
    ap.add_argument("--no-build", action="store_true",
                    help="use the existing target/release/tsunagu")
    ap.add_argument("--binary", action="append", type=binary_arg, metavar="[LABEL=]PATH",
                    help="measure this tsunagu binary instead of building one; repeat it to "
                         "compare binaries in the same run (steps alternate between them; the "
                         "first is the baseline of the side-by-side tables)")
    ap.add_argument("--only", choices=["a", "b"], help="run one part only")
    ap.add_argument("--route", type=route_list, default=["group"], metavar="group,agent",
                    help="(a): the demo number's route, group Support (default, through the "
                         "ACD queue) or straight to agent 201, or both (group,agent); (b) "
                         "always uses agent")
    ap.add_argument("--cps", type=int_list, metavar="N,N,...",
                    help="(a): the offered call rates (default 50,100,200,300,400,500,600,800)")
    ap.add_argument("--step-s", type=int, metavar="S", help="(a): seconds per rate (default 15)")
    ap.add_argument("--rtp-levels", type=int_list, metavar="N,N,...",
                    help="(b): concurrent call levels (default 50,100,200,300,500)")
    ap.add_argument("--max-others", type=float, default=30.0, metavar="PCT",
                    help="a step during which the rest of the machine used more than PCT %% of "
                         "one core is run again (default 30)")
    ap.add_argument("--max-wait", type=float, default=50.0, metavar="PCT",
                    help="a step in which Tsunagu waited for a CPU for more than PCT %% of the "
                         "CPU time it used (run-queue wait, /proc/PID/task/*/schedstat) is run "
                         "again (default 50)")
    ap.add_argument("--reruns", type=int, default=2,
                    help="at most this many reruns of a disturbed step (default 2)")
    ap.add_argument("--rust-log", default="warn", metavar="FILTER",
                    help="Tsunagu's RUST_LOG (default warn); e.g. warn,sqlx::query=debug with "
                         "--keep logs every SQL statement, to count them per call")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (SIPp traces, database, log)")
    args = ap.parse_args()
    cfg = dict(QUICK if args.quick else FULL)
    RUST_LOG[0] = args.rust_log
    MAX_WAIT[0] = args.max_wait
    if args.cps:
        cfg["cps_steps"] = args.cps
    if args.step_s:
        cfg["cps_step_s"] = args.step_s
    if args.rtp_levels:
        cfg["rtp_levels"] = args.rtp_levels

    for tool in ("sipp",):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (Debian package sip-tester)")
    if args.binary and len({l for l, _ in args.binary}) != len(args.binary):
        sys.exit("--binary labels must differ (LABEL=PATH)")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    procs = Procs()
    workdir = Path(tempfile.mkdtemp(prefix="tsunagu-bench-"))
    started = time.monotonic()
    code = 0
    try:
        if args.binary:
            binaries = args.binary
        elif args.no_build:
            binaries = [("tsunagu", ROOT / "target" / "release" / "tsunagu")]
        else:
            binaries = [("tsunagu", build())]
        for _, path in binaries:
            if not path.exists():
                raise RuntimeError(f"{path} does not exist")
        env_rows = environment(binaries)

        out = []
        out.append("Environment")
        out.append(table(["item", "value"], [list(r) for r in env_rows]))
        out.append(f"mode: {'--quick' if args.quick else 'full'}; all traffic on 127.0.0.1; "
                   f"Tsunagu RUST_LOG={args.rust_log}, SQLite data dir, RTP range {RTP_PORTS[0]}-"
                   f"{RTP_PORTS[1]} (shared out between the binaries); demo number {DID} "
                   f"max_channels set to 0 (unlimited)")
        out.append("SIPp (carrier + agent UAS) runs on the same "
                   f"{os.cpu_count()} cores as Tsunagu: CPU % columns are % of one core "
                   f"(max {100 * (os.cpu_count() or 1)} %).")
        if len(binaries) > 1:
            out.append(f"Binaries compared: {', '.join(l for l, _ in binaries)}; each has its "
                       f"own process, database and agent phone; every step runs on each in "
                       f"turn, the order alternating from step to step. A step during which "
                       f"others used > {args.max_others:.0f} % of a core or Tsunagu's run-queue "
                       f"wait exceeded {args.max_wait:.0f} % of its CPU time is run again (at most "
                       f"{args.reruns} times); 'run' says which run is shown.")
        print("\n".join(out) + "\n", flush=True)

        if args.only in (None, "a"):
            for route in args.route:
                # Fresh processes per route, so that one route's history does not weigh on
                # the other's.
                tss = start_all(procs, workdir, binaries, f"a-{route}")
                res = run_signalling(procs, tss, workdir, cfg, route, args.max_others,
                                     args.reruns)
                print_signalling(res, cfg, route, args.max_others)
                for ts in tss:
                    procs.stop(ts.proc)

        if args.only in (None, "b"):
            # A fresh process and database, so that (a)'s allocations and call history do
            # not blur (b)'s memory figures.
            tss = start_all(procs, workdir, binaries, "b")
            res, idle = run_media(procs, tss, workdir, cfg, args.max_others, args.reruns)
            print_media(res, idle, cfg, args.max_others)
        log(f"done in {time.monotonic() - started:.0f} s")
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        code = 130
    except Exception as e:
        log(f"error: {e}")
        code = 1
    finally:
        procs.stop_all()
        if args.keep or code not in (0, 130):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

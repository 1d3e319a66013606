#!/usr/bin/env python3
"""SIP load benchmark for Tsunagu (a program, not a test).

Builds Tsunagu in release mode, starts `tsunagu serve --demo` on a fresh temporary data
directory on 127.0.0.1, plays an agent phone (extension 201) and a carrier with SIPp, and
prints two tables:

  (a) signalling only: short calls at stepped call rates (response times, CPU, RSS);
  (b) long calls with RTP both ways at stepped concurrency (packets/s, loss, CPU, RSS/call).

Python 3 standard library only. Everything listens on 127.0.0.1. Every loop is bounded in count
and time; all started processes are killed at the end, on error and on Ctrl-C.

    python3 bench/sip_load.py            # full run, about 5 minutes after the build
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

FULL = {
    "cps_steps": [50, 100, 200, 300, 500],
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
        return self

    def sample(self):
        """Remembers the latest counters: a process that exits before stop() keeps its last."""
        for n, p in self.pids.items():
            c = proc_cpu_ticks(p)
            if c is not None:
                self.last[n] = c

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
    def __init__(self, procs, workdir, binary):
        self.procs = procs
        self.data = workdir / "data"
        self.http_port = free_tcp_port()
        self.sip_port = free_sip_port()
        self.sip = f"127.0.0.1:{self.sip_port}"
        self.log_path = workdir / "tsunagu.log"
        env = dict(os.environ, RUST_LOG="warn")
        self.logf = open(self.log_path, "wb")
        self.proc = procs.start(
            "tsunagu",
            [
                binary, "serve", "--demo",
                "--data-dir", self.data,
                "--http-addr", f"127.0.0.1:{self.http_port}",
                "--sip-addr", self.sip,
                "--rtp-ports", f"{RTP_PORTS[0]}-{RTP_PORTS[1]}",
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


# ---------------------------------------------------------------------------------------------
# (a) signalling


def run_signalling(procs, ts, workdir, cfg, route):
    steps = cfg["cps_steps"]
    step_s = cfg["cps_step_s"]
    adir = workdir / "a"
    adir.mkdir()
    ts.route_number(route)
    phone, phone_port, _ = start_phone(procs, ts, adir)
    rows, results = [], []
    try:
        for i, rate in enumerate(steps):
            register(procs, ts, phone_port, adir)  # cheap, and keeps the binding fresh
            sdir = adir / f"cps{rate}"
            sdir.mkdir()
            total = rate * step_s
            stat_path = sdir / "stat.csv"
            caller = f"0901{rate:06d}"
            log(f"(a) {rate} cps for {step_s} s ({total} calls)")
            pids = {"tsunagu": ts.pid, "agent": phone.pid}
            rss_peak = proc_rss_mb(ts.pid) or 0.0
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
            deadline = time.monotonic() + step_s + 45
            while time.monotonic() < deadline:
                win.sample()  # before poll(): reaping the carrier removes its /proc entry
                if carrier.poll() is not None:
                    break
                rss_peak = max(rss_peak, proc_rss_mb(ts.pid) or 0.0)
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
            res = {
                "rate": rate, "achieved": achieved, "ok": ok, "failed": failed + not_run,
                "n180": len(r180), "n200": len(r200), "retrans": retrans,
                "p50_180": pct(r180, 50), "p99_180": pct(r180, 99),
                "p50_200": pct(r200, 50), "p99_200": pct(r200, 99),
                "rtd": (pct(rtd180, 50), pct(rtd180, 99), pct(rtd200, 50), pct(rtd200, 99),
                        len(rtd180), len(rtd200)),
                "cpu": cpu["tsunagu"], "rss": rss_peak,
                "carrier_cpu": cpu["carrier"], "agent_cpu": cpu["agent"], "host": cpu["host"],
                "others": cpu["others"],
                "why": failure_reasons(stat) + (f", never started {not_run}" if not_run else ""),
            }
            results.append(res)
            rows.append([
                rate, f"{achieved:.1f}", ok, res["failed"], retrans,
                fmt(res["p50_180"], "{:.2f}"), fmt(res["p99_180"], "{:.2f}"),
                fmt(res["p50_200"], "{:.2f}"), fmt(res["p99_200"], "{:.2f}"),
                fmt(res["cpu"], "{:.0f}"), fmt(rss_peak), fmt(res["carrier_cpu"], "{:.0f}"),
                fmt(res["agent_cpu"], "{:.0f}"), fmt(res["others"], "{:.0f}"),
                fmt(res["host"], "{:.0f}"),
            ])
            if ts.proc.poll() is not None:
                raise RuntimeError(f"tsunagu died during (a):\n{ts.log_tail()}")
            time.sleep(1.0)  # let the last dialogs linger out
    finally:
        procs.stop(phone)
    return rows, results


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
    """Per-call relay counters of the calls from `caller`: waits (bounded) for the events."""
    deadline = time.monotonic() + wait_s
    rows = []
    while True:
        con = ts.db()
        try:
            rows = con.execute(
                """SELECT c.answered_at, c.ended_at, e.data FROM calls c
                   JOIN events e ON e.call_id = c.call_uuid AND e.kind = 'call.media'
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


def run_media(procs, ts, workdir, cfg):
    levels = cfg["rtp_levels"]
    hold_s = cfg["rtp_hold_s"]
    ramp = cfg["rtp_ramp_cps"]
    bdir = workdir / "b"
    bdir.mkdir()
    # Through the group, the ACD offers an agent one call at a time: the others would wait in
    # the queue. Concurrent calls to one phone need the number routed to the agent itself.
    ts.route_number("agent")
    make_tone(bdir / "tone.wav")
    phone, phone_port, phone_media = start_phone(procs, ts, bdir)
    echo_ports = {phone_media, phone_media + 2}
    rows, results = [], []
    try:
        time.sleep(2.0)
        idle_rss = proc_rss_mb(ts.pid)
        for n in levels:
            register(procs, ts, phone_port, bdir)
            sdir = bdir / f"calls{n}"
            sdir.mkdir()
            shutil.copy(bdir / "tone.wav", sdir / "tone.wav")
            caller = f"0902{n:06d}"
            ramp_s = n / ramp
            if hold_s < ramp_s + 4:
                log(f"(b) warning: hold {hold_s} s is short for a {ramp_s:.1f} s ramp")
            log(f"(b) {n} concurrent calls: ramp {ramp_s:.1f} s at {ramp} cps, hold {hold_s} s")
            stat_path = sdir / "stat.csv"
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
            relay_d0 = udp_drops(lo=RTP_PORTS[0], hi=RTP_PORTS[1])[0]
            drops = None
            deadline = t0 + ramp_s + hold_s + 50
            while carrier.poll() is None and time.monotonic() < deadline:
                now = time.monotonic()
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
                                 udp_drops(lo=RTP_PORTS[0], hi=RTP_PORTS[1])[0] - relay_d0)
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
            per_call = ((rss - idle_rss) * 1024.0 / n) if rss is not None and idle_rss else None
            res = {
                "n": n, "ok": ok, "failed": failed, "media_calls": len(media),
                "answered": answered, "pps": pps, "fwd": fwd, "back": back,
                "expected": expected, "echo_loss": echo_loss, "src_loss": src_loss,
                "cpu": cpu and cpu["tsunagu"], "rss": rss,
                "kb_call": per_call, "db_talk": db_talk, "drops": drops,
                "carrier_cpu": cpu and cpu["carrier"], "agent_cpu": cpu and cpu["agent"],
                "host": cpu and cpu["host"], "window_s": cpu and cpu["wall_s"],
                "others": cpu and cpu["others"],
                "why": failure_reasons(stat),
            }
            results.append(res)
            rows.append([
                n, ok, failed, len(media), f"{pps:.0f}",
                fwd, back, f"{expected:.0f}",
                fmt(echo_loss, "{:.3f}"), fmt(src_loss, "{:.3f}"),
                drops[0] if drops else "-", drops[1] if drops else "-",
                fmt(res["cpu"], "{:.0f}"), fmt(rss), fmt(per_call, "{:.1f}"),
                fmt(res["carrier_cpu"], "{:.0f}"), fmt(res["agent_cpu"], "{:.0f}"),
                fmt(res["others"], "{:.0f}"), fmt(res["host"], "{:.0f}"),
                fmt(db_talk, "{:.2f}"),
            ])
            if ts.proc.poll() is not None:
                raise RuntimeError(f"tsunagu died during (b):\n{ts.log_tail()}")
            time.sleep(2.0)
    finally:
        procs.stop(phone)
    return rows, results, idle_rss


# ---------------------------------------------------------------------------------------------


def environment():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "crates"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        rev = rev + (" (crates/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        rev = "unknown"
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
    return [
        ("nproc", str(os.cpu_count())),
        ("host CPU% before start", f"{busy:.0f} (other work on the machine, % of one core)"),
        ("CPU", model),
        ("memory", f"{mem_mb} MB" if mem_mb else "unknown"),
        ("kernel", platform.release()),
        ("SIPp", sipp_version()),
        ("Python", platform.python_version()),
        ("Tsunagu", f"release build, git {rev}"),
    ]


def start_tsunagu(procs, workdir, binary):
    workdir.mkdir()
    ts = Tsunagu(procs, workdir, binary)
    ts.wait_ready()
    ts.login()
    # The demo number allows 10 channels; 0 means no limit, so that the limit is not measured.
    ts.api("PATCH", "/api/v1/numbers/1", {"max_channels": 0})
    log(f"tsunagu pid {ts.pid}, SIP {ts.sip}, HTTP {ts.base}, data {ts.data}")
    return ts


def build():
    log("cargo build --release -p tsunagu")
    r = subprocess.run(["cargo", "build", "--release", "-p", "tsunagu"], cwd=ROOT, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError("cargo build failed")
    return ROOT / "target" / "release" / "tsunagu"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small numbers, about 1 minute")
    ap.add_argument("--no-build", action="store_true",
                    help="use the existing target/release/tsunagu")
    ap.add_argument("--only", choices=["a", "b"], help="run one part only")
    ap.add_argument("--route", choices=["group", "agent"], default="group",
                    help="(a): the demo number's route, group Support (default, through the "
                         "ACD queue) or straight to agent 201; (b) always uses agent")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (SIPp traces, database, log)")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL

    for tool in ("sipp",):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (Debian package sip-tester)")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    procs = Procs()
    workdir = Path(tempfile.mkdtemp(prefix="tsunagu-bench-"))
    started = time.monotonic()
    code = 0
    try:
        binary = ROOT / "target" / "release" / "tsunagu" if args.no_build else build()
        if not binary.exists():
            raise RuntimeError(f"{binary} does not exist")
        env_rows = environment()
        ts = start_tsunagu(procs, workdir / "tsunagu-a", binary)

        out = []
        out.append("Environment")
        out.append(table(["item", "value"], [list(r) for r in env_rows]))
        out.append(f"mode: {'--quick' if args.quick else 'full'}; all traffic on 127.0.0.1; "
                   f"Tsunagu RUST_LOG=warn, SQLite data dir, --rtp-ports "
                   f"{RTP_PORTS[0]}-{RTP_PORTS[1]}; demo number {DID} max_channels set to 0 "
                   f"(unlimited)")
        out.append("SIPp (carrier + agent UAS) runs on the same "
                   f"{os.cpu_count()} cores as Tsunagu: CPU % columns are % of one core "
                   f"(max {100 * (os.cpu_count() or 1)} %).")
        print("\n".join(out) + "\n", flush=True)

        if args.only in (None, "a"):
            rows, res = run_signalling(procs, ts, workdir, cfg, args.route)
            if args.route == "group":
                print(f"(a) Signalling only: carrier -> {DID} -> group Support (demo setting) -> "
                      f"agent {AGENT}")
                print("    The demo group has 201, 202 and 203; only 201 is registered, so every "
                      "call has exactly one outgoing leg. Through the group the ACD queue offers "
                      "201 one call at a time:")
                print("    a call waits while the previous one is still up (each lasts a few ms "
                      "here), so at high rates this measures queueing too (see --route agent).")
            else:
                print(f"(a) Signalling only: carrier -> {DID} routed straight to agent {AGENT} "
                      f"(--route agent; no group, no ACD queue); one outgoing leg per call.")
            print(f"    Calls answer at once, no media, BYE right after ACK; each step lasts "
                  f"{cfg['cps_step_s']} s. Times in ms, from SIPp's message trace (microseconds).")
            print(table(
                ["offered cps", "achieved cps", "ok", "failed", "retrans",
                 "180 p50", "180 p99", "200 p50", "200 p99",
                 "tsunagu CPU%", "RSS MB", "carrier SIPp CPU%", "agent SIPp CPU%",
                 "others CPU%", "host CPU%"],
                rows))
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

        if args.only in (None, "b"):
            if args.only is None:
                # A fresh process and database, so that (a)'s allocations and call history do
                # not blur (b)'s memory figures.
                procs.stop(ts.proc)
                ts = start_tsunagu(procs, workdir / "tsunagu-b", binary)
            rows, res, idle = run_media(procs, ts, workdir, cfg)
            print(f"(b) Media: carrier streams 8 kHz u-law (50 pkt/s) to agent {AGENT}, whose SIPp "
                  f"echoes it back (-rtp_echo); calls held {cfg['rtp_hold_s']} s, "
                  f"ramped at {cfg['rtp_ramp_cps']} cps.")
            print(f"    {DID} is routed straight to agent {AGENT} here: through the group the ACD "
                  f"would offer 201 one call at a time and queue the rest.")
            print(f"    Packet counts are Tsunagu's own (call.media events); CPU, RSS and socket "
                  f"drops are sampled while every call is up. A fresh Tsunagu process serves (b); "
                  f"its idle RSS: {fmt(idle)} MB.")
            print(table(
                ["calls", "ok", "failed", "media ev", "pkt/s via tsunagu",
                 "fwd pkts", "back pkts", "expected fwd", "echo loss %", "fwd deficit %",
                 "echo drops", "relay drops",
                 "tsunagu CPU%", "RSS MB", "KB/call", "carrier SIPp CPU%", "agent SIPp CPU%",
                 "others CPU%", "host CPU%", "db talk s"],
                rows))
            for r in res:
                if r["failed"] and r["why"]:
                    print(f"    {r['n']} calls failures: {r['why']}")
            good = [r["n"] for r in res
                    if r["echo_loss"] is not None and r["echo_loss"] < 0.1 and r["failed"] == 0]
            print(f"    Highest level with < 0.1 % echo loss and no failed call: "
                  f"{str(max(good)) + ' calls' if good else 'none'}")
            print(flush=True)
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

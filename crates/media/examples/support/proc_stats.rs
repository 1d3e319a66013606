//! CPU time and memory of this process and of named threads, from /proc, and runtimes with
//! named threads so the media tasks' CPU can be told apart from the load generators'. Shared
//! by the benchmarks (`#[path]`).
#![allow(dead_code)]

use tokio::runtime::{Builder, Runtime};

/// USER_HZ is 100 on every Linux architecture that matters; reading it needs libc.
const TICKS_PER_SECOND: f64 = 100.0;

pub fn runtime(name: &str, threads: usize) -> std::io::Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
}

/// utime + stime of the whole process, in seconds.
pub fn process_cpu_seconds() -> std::io::Result<f64> {
    Ok(stat_ticks(&std::fs::read_to_string("/proc/self/stat")?) as f64 / TICKS_PER_SECOND)
}

/// utime + stime of the threads named `name` (as [`runtime`] names them), in seconds.
pub fn thread_cpu_seconds(name: &str) -> std::io::Result<f64> {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let dir = task?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        // Thread names are cut to 15 bytes by the kernel.
        if name.starts_with(comm.trim()) && !comm.trim().is_empty() {
            ticks += stat_ticks(&std::fs::read_to_string(dir.join("stat")).unwrap_or_default());
        }
    }
    Ok(ticks as f64 / TICKS_PER_SECOND)
}

/// Fields 14 and 15 (utime, stime) of a stat line; the command name before them may hold spaces.
fn stat_ticks(stat: &str) -> u64 {
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // After ")" come field 3 (state) onwards, so utime and stime are at indices 11 and 12.
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

pub fn rss_kib() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

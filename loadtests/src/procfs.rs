//! What `/proc` says about a process (CPU seconds, resident memory now and at its peak) and about
//! the machine (cores, memory, kernel, CPU model).

use serde::Serialize;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProcSample {
    /// User plus system CPU time of all its threads since it started, in seconds.
    pub cpu_s: f64,
    /// Resident memory now (`VmRSS`), in bytes.
    pub rss_bytes: u64,
    /// The largest resident memory it has had (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
}

/// Why a process could not be read.
#[derive(thiserror::Error, Debug)]
#[error("/proc/{pid}: {reason}")]
pub struct ProcError {
    /// The process id.
    pub pid: u32,
    /// What went wrong.
    pub reason: String,
}

fn clock_ticks() -> f64 {
    match rustix::param::clock_ticks_per_second() {
        0 => 100.0,
        ticks => ticks as f64,
    }
}

/// Reads `/proc/PID/stat` and `/proc/PID/status` of `pid`.
///
/// # Errors
/// [`ProcError`] when the process is gone or the files are not as expected.
pub fn sample(pid: u32) -> Result<ProcSample, ProcError> {
    let err = |reason: String| ProcError { pid, reason };
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| err(e.to_string()))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state); utime and
    // stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| err("no `)` in stat".into()))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64, ProcError> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| err(format!("stat field {} missing", i + 3)))
    };
    let cpu_s = (tick(11)? + tick(12)?) / clock_ticks();
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| err(e.to_string()))?;
    Ok(ProcSample {
        cpu_s,
        rss_bytes: kb_field(&status, "VmRSS:").unwrap_or(0) * 1024,
        peak_rss_bytes: kb_field(&status, "VmHWM:").unwrap_or(0) * 1024,
    })
}

/// The value of a `Name:   123 kB` line.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The machine the numbers were measured on.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Machine {
    /// CPUs available to this process.
    pub cores: usize,
    /// Total memory (`MemTotal`), in MiB.
    pub memory_mib: u64,
    /// The kernel release.
    pub kernel: String,
    /// The CPU model name.
    pub cpu: String,
}

/// Reads the machine's cores, memory, kernel and CPU model.
pub fn machine() -> Machine {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_mib: kb_field(&meminfo, "MemTotal:").unwrap_or(0) / 1024,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        cpu: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default(),
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it). Returns the new
/// soft limit.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if let Err(e) = setrlimit(Resource::Nofile, raised) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_bytes > 0 && s.peak_rss_bytes >= s.rss_bytes, "{s:?}");
        assert!(s.cpu_s >= 0.0);
        assert!(sample(u32::MAX).is_err());
    }

    #[test]
    fn reads_the_machine() {
        let m = machine();
        assert!(m.cores >= 1 && m.memory_mib > 0, "{m:?}");
    }
}

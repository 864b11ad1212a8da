// What the kernel says about a process: CPU time, resident memory, and the machine itself.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads /proc for one process.
public enum ProcessProbe {
    /// User plus system CPU seconds of a process (all its threads), from /proc/PID/stat.
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return cpuSeconds(statLine: text)
    }

    /// utime + stime of a /proc/PID/stat line; the command name may hold spaces, so fields are
    /// counted after its closing parenthesis (state is field 3, utime 14, stime 15).
    public static func cpuSeconds(statLine text: String) -> Double? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Each thread's name and user plus system CPU seconds (/proc/PID/task/TID/stat); threads
    /// that end while they are read are left out.
    public static func threadCPUSeconds(pid: Int32) -> [(name: String, seconds: Double)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { tid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"),
                  let seconds = cpuSeconds(statLine: text)
            else { return nil }
            return (String(text[text.index(after: open)..<close]), seconds)
        }
    }

    /// Resident memory in bytes (VmRSS of /proc/PID/status).
    public static func residentBytes(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return residentBytes(status: text)
    }

    public static func residentBytes(status text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kb = Int(parts[1]) else { return nil }
            return kb * 1024
        }
        return nil
    }

    /// The whole machine's busy and stolen CPU seconds so far (/proc/stat, all cores): busy is
    /// user + nice + system + irq + softirq; steal is time the hypervisor gave to someone else.
    public static func machineCPUSeconds() -> (busy: Double, steal: Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return (0, 0) }
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return (0, 0) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((v[0] + v[1] + v[2] + v[5] + v[6]) / ticks, v[7] / ticks)
    }

    /// CPU seconds the calling thread has used.
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU seconds this whole process has used.
    public static func selfCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Monotonic nanoseconds, the one clock every timestamp of a benchmark is taken from.
@inline(__always)
public func benchNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The machine a run was made on, as every result file records it.
public struct MachineInfo: Codable, Sendable {
    public var cpuModel: String
    public var logicalCores: Int
    public var onlineCores: Int
    public var kernel: String
    public var memoryGiB: Double

    public static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let lines = cpuinfo.split(separator: "\n")
        let model = lines.first { $0.hasPrefix("model name") }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let processors = lines.filter { $0.hasPrefix("processor") }.count
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let totalKB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first }.flatMap { Double($0) } ?? 0
        return MachineInfo(cpuModel: model, logicalCores: processors, onlineCores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
                           kernel: "Linux \(release)", memoryGiB: (totalKB / 1024 / 1024 * 10).rounded() / 10)
    }

    public var line: String { "\(cpuModel), \(logicalCores) logical cores (\(onlineCores) online), \(memoryGiB) GiB, \(kernel)" }
}

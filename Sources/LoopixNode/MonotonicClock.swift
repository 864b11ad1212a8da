// The one clock of the pipeline: monotonic nanoseconds, shared with NIO's timers.
import NIOCore

/// Monotonic time in nanoseconds, on the same scale as `NIODeadline`.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    NIODeadline.now().uptimeNanoseconds
}

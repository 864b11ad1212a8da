// Running a node as a process: a service group that turns SIGTERM and SIGINT into a graceful
// shutdown.
import Logging
import ServiceLifecycle

extension MixNode {
    /// Runs until SIGTERM or SIGINT, then shuts down gracefully (see `shutdown()`).
    public func runUntilTerminated(logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: self)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

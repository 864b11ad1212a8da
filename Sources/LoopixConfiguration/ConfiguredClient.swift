// The client a configuration file describes: on a single signed topology, or following the
// directory and building each packet with the keys of the epoch it is sent in.
import Foundation
import Logging
import LoopixClient
import LoopixDirectory
import LoopixNetwork
import LoopixSphinx
import Metrics
import NIOPosix

/// A client built from its configuration file, with the event loop its transport runs on and,
/// in directory mode, the task that follows the directory for the client's life.
public struct ConfiguredClient: Sendable {
    public let client: LoopixClient
    private let group: MultiThreadedEventLoopGroup
    private let following: Task<Void, Never>?

    /// Builds the client (nothing is sent before `client.start()`). With a directory, waits until
    /// the directory lists the client's provider, for at most `directoryTimeout` seconds.
    public init(file: ClientConfigurationFile, path: String, directoryTimeout: Double = 60) async throws {
        let keys = try KeyFile.load(path: file.key)
        let providerID = try NodeID(hex: file.provider)
        let identity = ClientIdentity(sphinxKey: keys.sphinxKey, signingKey: keys.signingKey,
                                      mailbox: try SphinxAddress(hex: file.mailbox), provider: providerID)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let network: any NetworkView
        let topology: Topology
        var following: Task<Void, Never>? = nil
        do {
            if let directory = file.directory {
                let follower = try directory.follower(group: group, metrics: NOOPMetricsHandler.instance,
                                                      logger: Logger(label: "loopix.client.directory"))
                following = Task { await follower.follow { _ in } }
                let view = DirectoryNetwork(follower: follower)
                topology = try await Self.waitForProvider(providerID, in: view, timeout: directoryTimeout, directory: directory)
                network = view
            } else {
                topology = try loadTopology(file.topology, authority: file.authority)
                network = StaticNetwork(topology)
            }
            guard let provider = topology.node(providerID), provider.role == .provider else {
                throw ConfigurationError(file: path, field: "provider", problem: "not a provider of the network")
            }
            guard let pullPort = provider.clientPort else {
                throw ConfigurationError(file: path, field: "provider", problem: "the network gives this provider no clientPort")
            }
            guard let providerKey = provider.linkKey else {
                throw ConfigurationError(file: path, field: "provider",
                                         problem: "the network gives this provider no identity key to authenticate its links")
            }
            let transport = TCPClientTransport(
                packets: .init(host: provider.host, port: provider.port), pulls: .init(host: provider.host, port: pullPort),
                identity: identity, providerKey: providerKey, geometry: topology.parameters.geometry,
                pullSize: topology.parameters.pullSize, group: group)
            client = LoopixClient(core: try ClientCore(identity: identity, network: network), rates: file.rates(topology.parameters),
                                  transport: transport, eventLoop: group.next(), bufferCapacity: file.sendBuffer ?? 1000)
        } catch {
            following?.cancel()
            _ = await following?.value
            try? await group.shutdownGracefully()
            throw error
        }
        self.group = group
        self.following = following
    }

    /// The topology of the first document that lists `provider`, once the follower has one.
    private static func waitForProvider(_ provider: NodeID, in view: DirectoryNetwork, timeout: Double,
                                        directory: DirectoryAccess) async throws -> Topology {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while ContinuousClock.now < deadline {
            if let topology = try? view.current().topology, topology.node(provider) != nil { return topology }
            try await Task.sleep(for: .milliseconds(100))
        }
        let why = view.follower.schedule == nil
            ? "no document from the directory at \(directory.host):\(directory.port) was accepted (is it up, and are the pinned keys its own?)"
            : "the directory's documents do not list the provider \(provider.hex.prefix(16))… (is it registered and running?)"
        throw StartupError("no network to send on after \(Int(timeout)) s: \(why)")
    }

    /// The address others send to, from the file alone (nothing is started).
    public static func address(file: ClientConfigurationFile) throws -> RecipientAddress {
        let keys = try KeyFile.load(path: file.key)
        return RecipientAddress(provider: try NodeID(hex: file.provider), mailbox: try SphinxAddress(hex: file.mailbox),
                                publicKey: keys.sphinxKey.publicKey)
    }

    /// Stops the client (its last pull acknowledged), the directory follower and the event loop.
    public func stop() async {
        await client.stop()
        following?.cancel()
        _ = await following?.value
        try? await group.shutdownGracefully()
    }
}

/// A role that could not start for a reason outside its configuration file.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

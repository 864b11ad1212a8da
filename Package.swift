// swift-tools-version: 6.1
// Loopix: a mix network for anonymous messaging, on a C Sphinx core.
import PackageDescription

let package = Package(
    name: "Loopix",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "LoopixSphinx", targets: ["LoopixSphinx"]),
        .library(name: "LoopixNetwork", targets: ["LoopixNetwork"]),
        .library(name: "LoopixNoise", targets: ["LoopixNoise"]),
        .library(name: "LoopixNode", targets: ["LoopixNode"]),
        .library(name: "LoopixSim", targets: ["LoopixSim"]),
        .library(name: "LoopixProvider", targets: ["LoopixProvider"]),
        .library(name: "LoopixClient", targets: ["LoopixClient"]),
        .library(name: "LoopixDirectory", targets: ["LoopixDirectory"]),
        .library(name: "CLoopixSphinx", targets: ["CLoopixSphinx"]),
        .executable(name: "loopix", targets: ["loopix"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Child processes for the testnet, the node benchmark and the CLI tests: waits on a pidfd
        // from a thread of its own, never on the cooperative pool.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The C Sphinx core. It also builds alone (CSources/Makefile) as libloopix_sphinx.so.
        .target(
            name: "CLoopixSphinx",
            path: "CSources/CLoopixSphinx",
            publicHeadersPath: "include",
            linkerSettings: [.linkedLibrary("sodium"), .linkedLibrary("crypto")]
        ),
        .target(name: "LoopixSphinx", dependencies: ["CLoopixSphinx"]),
        // Noise handshakes and transport encryption for the links, over the same C core.
        .target(name: "LoopixNoise", dependencies: ["CLoopixSphinx"]),
        // What only tests may do to the Noise core (fixed ephemeral keys, nonces); no product links it.
        .target(
            name: "CLoopixTestHooks",
            dependencies: ["CLoopixSphinx"],
            path: "CSources/CLoopixTestHooks",
            publicHeadersPath: "include",
            cSettings: [.headerSearchPath("../CLoopixSphinx")]
        ),
        // Seeded generators and the draws (uniform, exponential, Poisson) every module takes.
        .target(name: "LoopixRandom"),
        .target(
            name: "LoopixNetwork",
            dependencies: [
                "LoopixSphinx",
                "LoopixNoise",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // Scheduling hints for the node's event loop threads (header only).
        .systemLibrary(name: "CLoopixThreads", path: "Sources/CLoopixThreads"),
        .target(
            name: "LoopixNode",
            dependencies: [
                "LoopixSphinx",
                "LoopixNoise",
                "LoopixNetwork",
                "LoopixDirectory",
                "LoopixRandom",
                "CLoopixThreads",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "BasicContainers", package: "swift-collections"),
            ]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "LoopixProvider",
            dependencies: [
                "LoopixSphinx",
                "LoopixNoise",
                "LoopixNetwork",
                "LoopixNode",
                "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "LoopixClient",
            dependencies: [
                "LoopixSphinx",
                "LoopixNoise",
                "LoopixNetwork",
                "LoopixDirectory",
                "LoopixRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The directory: the authority that publishes each epoch's signed document, and the
        // follower that nodes and clients use to fetch and check it.
        .target(
            name: "LoopixDirectory",
            dependencies: [
                "LoopixSphinx",
                "LoopixNetwork",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "LoopixSim", dependencies: ["LoopixRandom"]),
        // The configuration files of authority, mix, provider and client, mapped onto the libraries' configurations.
        .target(name: "LoopixConfiguration", dependencies: [
            "LoopixSphinx", "LoopixNetwork", "LoopixNode", "LoopixProvider", "LoopixClient", "LoopixDirectory",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Starting, signalling and stopping child processes.
        .target(name: "ChildProcesses", dependencies: [
            .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // Measurements: a node's Prometheus endpoint read back over HTTP (LoopixNetwork's exchange on
        // SwiftNIO's codec, not a full HTTP client: see MetricSamples.swift), and latency histograms (HdrHistogram).
        .target(name: "LoopixMetrics", dependencies: [
            "LoopixNetwork",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // A whole network on loopback: its files, its processes, what it shows.
        .target(name: "LoopixTestnet", dependencies: [
            "LoopixSphinx", "LoopixNetwork", "LoopixClient", "LoopixConfiguration", "LoopixDirectory", "ChildProcesses",
            "LoopixMetrics", .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // libsodium and libcrypto as the benchmarks call them directly: the cryptographic floor.
        .systemLibrary(name: "CBenchCrypto", path: "Sources/CBenchCrypto"),
        // The benchmark harness's measurements, statistics and queue model (`loopix bench`).
        .target(name: "LoopixBench", dependencies: [
            "LoopixSphinx", "LoopixNetwork", "LoopixNoise", "LoopixNode", "LoopixRandom", "LoopixSim", "LoopixConfiguration", "LoopixTestnet",
            "ChildProcesses", "LoopixMetrics", "CBenchCrypto", "CLoopixSphinx",
            .product(name: "Atomics", package: "swift-atomics"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The node's I/O path without cryptography (CSources/bench/relay_floor.c; also
        // `make -C CSources relay-floor`): `loopix bench node` runs it beside the node as the
        // floor the node's own path is judged against, from the folder `loopix` is in.
        .executableTarget(
            name: "relay_floor",
            dependencies: ["CLoopixSphinx"],
            path: "CSources/bench",
            sources: ["relay_floor.c"],
            linkerSettings: [.linkedLibrary("sodium"), .linkedLibrary("crypto"), .linkedLibrary("m")]
        ),
        .executableTarget(
            name: "loopix",
            dependencies: [
                // Not linked: a dependency on an executable only builds it with `loopix`.
                "relay_floor",
                "LoopixSphinx",
                "LoopixNetwork",
                "LoopixNode",
                "LoopixProvider",
                "LoopixClient",
                "LoopixSim",
                "LoopixBench",
                "LoopixConfiguration",
                "LoopixTestnet",
                "LoopixRandom",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by the tests that run real nodes.
        .target(name: "LoopixTestSupport", dependencies: [
            "LoopixNetwork", "LoopixNoise", "LoopixMetrics",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Tests/LoopixTestSupport"),
        .testTarget(name: "LoopixSphinxTests", dependencies: ["LoopixSphinx", "CLoopixSphinx"]),
        .testTarget(name: "LoopixNoiseTests", dependencies: ["LoopixNoise", "CLoopixSphinx", "CLoopixTestHooks"]),
        .testTarget(name: "LoopixNetworkTests", dependencies: [
            "LoopixNetwork",
            "LoopixNoise",
            "LoopixTestSupport",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixNodeTests", dependencies: [
            "LoopixNode",
            "LoopixTestSupport",
            "LoopixBench",
            "LoopixTestnet",
            "CLoopixThreads",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixRandomTests", dependencies: ["LoopixRandom"]),
        .testTarget(name: "LoopixSimTests", dependencies: ["LoopixSim", "LoopixRandom"]),
        .testTarget(name: "LoopixDirectoryTests", dependencies: [
            "LoopixDirectory",
            "LoopixTestSupport",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixClientTests", dependencies: [
            "LoopixClient", "LoopixRandom", "LoopixTestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        // relay_floor: built (not linked) for the test that runs it beside the benchmark's sink.
        .testTarget(name: "LoopixBenchTests", dependencies: ["LoopixBench", "LoopixRandom", "LoopixSim", "LoopixMetrics", "relay_floor"]),
        .testTarget(name: "LoopixConfigurationTests", dependencies: ["LoopixConfiguration", "LoopixNetwork", "LoopixNode", "LoopixProvider", "LoopixSphinx", "LoopixTestSupport"]),
        .testTarget(name: "LoopixTestnetTests", dependencies: ["LoopixTestnet", "LoopixClient", "LoopixConfiguration", "LoopixDirectory"]),
        // Runs the built `loopix` binary as separate processes.
        .testTarget(name: "LoopixCLITests", dependencies: [
            "loopix", "LoopixTestSupport", "LoopixNetwork", "LoopixSphinx", "ChildProcesses", "LoopixMetrics",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixProviderTests", dependencies: [
            "LoopixProvider",
            "LoopixClient",
            "LoopixTestSupport",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)

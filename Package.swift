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
        .target(
            name: "LoopixNetwork",
            dependencies: [
                "LoopixSphinx",
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
                "LoopixNetwork",
                "LoopixDirectory",
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
                "LoopixNetwork",
                "LoopixDirectory",
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
        .target(name: "LoopixSim"),
        // libsodium and libcrypto as the benchmarks call them directly: the cryptographic floor.
        .systemLibrary(name: "CBenchCrypto", path: "Sources/CBenchCrypto"),
        // The benchmark harness's measurements, statistics and queue model (`loopix bench`).
        .target(name: "LoopixBench", dependencies: [
            "LoopixSphinx", "LoopixNode", "CBenchCrypto", .product(name: "Atomics", package: "swift-atomics"),
        ]),
        .executableTarget(
            name: "loopix",
            dependencies: [
                "LoopixSphinx",
                "LoopixNetwork",
                "LoopixNode",
                "LoopixProvider",
                "LoopixClient",
                "LoopixSim",
                "LoopixBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by the tests that run real nodes.
        .target(name: "LoopixTestSupport", dependencies: ["LoopixNetwork"], path: "Tests/LoopixTestSupport"),
        .testTarget(name: "LoopixSphinxTests", dependencies: ["LoopixSphinx", "CLoopixSphinx"]),
        .testTarget(name: "LoopixNoiseTests", dependencies: ["LoopixNoise", "CLoopixSphinx", "CLoopixTestHooks"]),
        .testTarget(name: "LoopixNetworkTests", dependencies: [
            "LoopixNetwork",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixNodeTests", dependencies: [
            "LoopixNode",
            "LoopixTestSupport",
            "CLoopixThreads",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixSimTests", dependencies: ["LoopixSim"]),
        .testTarget(name: "LoopixDirectoryTests", dependencies: [
            "LoopixDirectory",
            "LoopixTestSupport",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixClientTests", dependencies: [
            "LoopixClient", "LoopixTestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "LoopixBenchTests", dependencies: ["LoopixBench"]),
        // Runs the built `loopix` binary as separate processes.
        .testTarget(name: "LoopixCLITests", dependencies: ["loopix", "LoopixTestSupport", "LoopixNetwork", "LoopixSphinx"]),
        .testTarget(name: "LoopixProviderTests", dependencies: [
            "LoopixProvider",
            "LoopixClient",
            "LoopixTestSupport",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
